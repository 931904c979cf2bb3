"""The portal on a 390 px phone (an iPhone 12 to 15's CSS width), in Debian's Chromium against
the production ASGI server: the top bar's every link and button is on the screen, none cut off
or scrolled out of sight, and no page is wider than the screen.

Signed in as a super admin, who sees every item of the navigation, with a long name."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.oncall.services import schedule_create
from itsm.roles import Role
from tests.browser import log_in
from tests.factories import make_incident

PHONE = {"width": 390, "height": 844}

# Each control of the top bar that a person cannot see whole: outside the screen, or cut off
# by the box it sits in (a clipped or scrolled navigation).
HIDDEN_CONTROLS = """
() => {
  const screen = document.documentElement.clientWidth;
  const hidden = [];
  for (const control of document.querySelectorAll(".topbar a, .topbar button")) {
    const box = control.getBoundingClientRect();
    let visible = box.width > 0 && box.left >= 0 && box.right <= screen;
    for (let parent = control.parentElement; parent; parent = parent.parentElement) {
      if (getComputedStyle(parent).overflowX === "visible") continue;
      const frame = parent.getBoundingClientRect();
      visible = visible && box.left >= frame.left - 0.5 && box.right <= frame.right + 0.5;
    }
    const name = control.textContent.trim() || control.title;
    if (!visible) hidden.push(`${name}: ${box.left}-${box.right}`);
  }
  return hidden;
}
"""
PAGE_WIDTH = "() => document.documentElement.scrollWidth"


@pytest.fixture
def admin(make_user):
    return make_user(
        "sam",
        roles=[Role.SUPER_ADMIN],
        is_staff=True,
        first_name="Samantha",
        last_name="Okonkwo-Richardson",
    )


@pytest.fixture
def incident(admin, service):
    """An incident and an on-call schedule, made before the browser starts: Playwright's loop
    keeps Django off this thread."""
    schedule_create(
        actor=admin,
        slug="primary",
        name="Primary on-call for the payments and checkout services",
        rotations=[
            {
                "name": "Weekly",
                "layer": 1,
                "handoff_at": timezone.now() - timedelta(days=3),
                "shift_length": timedelta(days=1),
                "members": [admin],
            }
        ],
    )
    return make_incident(
        actor=admin,
        services=[service.slug],
        impact=1,
        urgency=1,
        title="Checkout returns 500 for every card payment in the EU region since 09:12",
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_navigation_fits_a_390_px_phone(incident, server, browser):
    page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    log_in(page, server, "sam", "/")

    for path in ("/", "/incidents/", incident.get_absolute_url(), "/oncall/"):
        assert page.goto(f"{server.url}{path}").ok, path
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        nav = page.get_by_role("navigation", name="Main")
        for name in ("Dashboard", "Incidents", "New incident", "War rooms", "On call", "Admin"):
            expect(nav.get_by_role("link", name=name, exact=True)).to_be_in_viewport()
        assert page.evaluate(HIDDEN_CONTROLS) == [], path
        assert page.evaluate(PAGE_WIDTH) <= PHONE["width"], path
