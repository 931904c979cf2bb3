"""In a real browser (tests/browser.py): a manager posts a status page update from the war
room, and the public status page, opened by someone not signed in, shows it."""

import warnings
from collections import defaultdict

import pytest
from playwright.sync_api import expect

from tests.browser import off_the_loop, sign_in
from tests.warroom.status_fixtures import make_component


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_manager_posts_an_update_in_the_war_room_and_the_public_page_shows_it(
    major, manager, server, browser
):
    off_the_loop(lambda: make_component(manager, "Checkout API", group="Shop"))
    log = defaultdict(list)
    mona = sign_in(browser, server, "mona", major.get_absolute_url(), log)
    mona.on("framenavigated", lambda frame: log["navigations"].append(frame.url))
    form = mona.locator("#status-update-form")
    open_the_card(mona, form.get_by_label("Status"), log)
    form.get_by_label("Status").select_option("identified")
    form.get_by_label("Public message").fill(
        "Payments fail for some customers; we are rolling back."
    )
    form.get_by_label("Public name").fill("Payment failures")
    form.get_by_label("Checkout API").select_option("major_outage")
    form.get_by_role("button", name="Post to the status page").click()
    expect(mona.get_by_text("Posted to the public status page.")).to_be_visible()

    visitor = browser.new_context(java_script_enabled=False).new_page()
    visitor.goto(f"{server.url}/status/")
    expect(visitor.locator("#indicator")).to_have_text("Major System Outage")
    incident = visitor.locator(f"article#{major.number}").first
    expect(incident).to_contain_text("Payment failures")
    expect(incident).to_contain_text("Payments fail for some customers; we are rolling back.")
    expect(visitor.locator("#component-checkout-api")).to_contain_text("Major outage")
    assert log["errors"] == []


def open_the_card(page, field, log, tries=3) -> None:
    """Open the war room's status update card until `field` shows. Once in CI, on a loaded
    machine, the card did not stay open after the click, for 30 s; what closed it is not
    known (a reload of the room, which it does when a catch-up cannot fill a gap in its live
    messages, would). The manager then opens it again, as a person would, and the test warns
    with the page's navigations, to tell next time."""
    card = page.locator("details:has(#status-update-form)")
    for attempt in range(tries):
        if not card.evaluate("details => details.open"):
            page.get_by_text("Post status page update").click()
        try:
            expect(field).to_be_visible(timeout=10_000)
        except AssertionError:
            continue
        if attempt:
            tried = f"opened on try {attempt + 1}; navigations: {log['navigations']}"
            warnings.warn(tried, stacklevel=2)
        return
    raise AssertionError(f"the card never opened; navigations: {log['navigations']}")
