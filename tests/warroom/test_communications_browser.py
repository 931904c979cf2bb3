"""In a real browser (tests/browser.py): the communications lead drafts the initial notification
in the war room, edits its body, sends it, and sees it listed as sent with its recipients."""

from collections import defaultdict

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in

IMPACT = "Impact: Card payments fail for every customer in Europe"


@pytest.fixture
def comms_lead(major, make_comms_lead):
    return make_comms_lead(major)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_communications_lead_drafts_edits_and_sends_the_initial_notification(
    major, comms_lead, it_leader, server, browser
):
    log = defaultdict(list)
    cora = sign_in(browser, server, "cora", major.get_absolute_url(), log)
    card = cora.locator("#communications")
    card.get_by_role("button", name="Initial notification").click()
    expect(cora.get_by_text("Initial notification drafted")).to_be_visible()

    draft = card.locator(".comms-item").first
    body = draft.get_by_label("Body")
    text = body.input_value()
    assert "Impact: Checkout fails for every customer\n" in text  # drafted from the incident
    body.fill(text.replace("Impact: Checkout fails for every customer", IMPACT))
    draft.get_by_role("button", name="Send").click()

    expect(
        cora.get_by_text(
            "Initial notification sent to IT leadership and affected department heads "
            "(1 recipient)."
        )
    ).to_be_visible()
    sent = card.locator(".comms-item").first
    expect(sent.locator(".chip")).to_have_text("Sent")
    expect(sent.locator("summary")).to_contain_text("sent by Cora Lead")
    sent.locator("summary").click()
    expect(sent.locator(".comms-body")).to_contain_text(IMPACT)
    expect(sent.locator(".comms-recipients")).to_contain_text("stella@example.org")
    expect(sent.locator("textarea")).to_have_count(0)
    assert log["errors"] == []
