"""In a real browser (tests/browser.py): a manager posts a status page update from the war
room, and the public status page, opened by someone not signed in, shows it."""

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
    mona.get_by_text("Post status page update").click()
    form = mona.locator("#status-update-form")
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
