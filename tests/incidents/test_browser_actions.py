"""One tap to act, in a real browser on a phone-sized screen (390 px wide): Debian's Chromium
driven by Playwright, against the production ASGI server (uvicorn) serving the test database,
as tests/warroom/test_browser.py does.

A responder acknowledges a new incident from the dashboard with one tap on a button big enough
for a thumb, on a row that does not overflow the screen; then ticks a checklist item on the
incident page without the page reloading."""

import pytest
from playwright.sync_api import expect

from incidents.choices import IncidentStatus
from incidents.models import ChecklistEntry, Incident
from tests.browser import AsgiServer, free_port, off_the_loop

PORTS = range(19300, 19400)
PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's
PHONE = {"width": 390, "height": 844}
TAP = 44  # the smallest comfortable tap target, in CSS pixels


@pytest.fixture
def server(tmp_path):
    server = AsgiServer(free_port(PORTS), tmp_path / "server.log")
    server.start()
    yield server
    server.stop()  # before pytest-django empties the database it reads


def phone_signed_in(browser, server: AsgiServer, errors: list):
    page = browser.new_context().new_page()
    page.set_viewport_size(PHONE)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and errors.append(message.text),
    )
    page.goto(f"{server.url}/login/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")
    return page


def overflows(page) -> bool:
    return page.evaluate(
        "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_tap_acknowledge_from_the_dashboard_on_a_phone(incident, responder, server, browser):
    errors = []
    page = phone_signed_in(browser, server, errors)
    button = page.get_by_role("button", name=f"Acknowledge {incident.number}").first

    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box["height"] >= TAP and box["width"] >= TAP, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert not overflows(page)

    button.click()

    expect(page.locator(".messages")).to_contain_text(f"{incident.number} acknowledged")
    assert page.url == f"{server.url}/"
    fresh = off_the_loop(lambda: Incident.objects.select_related("assignee").get(pk=incident.pk))
    assert (fresh.status, fresh.assignee.username) == (IncidentStatus.ACKNOWLEDGED, "rita")
    expect(page.get_by_role("button", name=f"Acknowledge {incident.number}")).to_have_count(0)
    assert not overflows(page)
    assert errors == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_checklist_item_ticks_without_a_reload(incident, responder, server, browser):
    errors = []
    page = phone_signed_in(browser, server, errors)
    page.goto(f"{server.url}{incident.get_absolute_url()}")
    page.evaluate("() => { window.notReloaded = true; }")
    item = page.locator('.checklist li[data-item="kb_updated"]')

    page.get_by_role("button", name="Tick: Knowledge base updated").click()

    expect(item).to_have_class("done")
    expect(item).to_contain_text("ticked by rita")
    expect(page.get_by_role("button", name="Untick: Knowledge base updated")).to_be_focused()
    assert page.evaluate("() => window.notReloaded") is True
    assert off_the_loop(lambda: ChecklistEntry.objects.filter(incident=incident).count()) == 1

    # Ticked meanwhile in another tab: the page says so, in place, and still without a reload.
    off_the_loop(lambda: ChecklistEntry.objects.filter(incident=incident).delete())
    page.get_by_role("button", name="Untick: Knowledge base updated").click()

    expect(page.locator(".checklist-error")).to_contain_text("already unticked")
    assert page.evaluate("() => window.notReloaded") is True
    assert errors == []
