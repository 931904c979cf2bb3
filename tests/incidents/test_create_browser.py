"""The create form in a real browser (Debian's Chromium, Playwright, uvicorn; as the war-room
test): the priority impact × urgency will give is shown before the form is sent, and changes
as the responder picks other values, from the configured matrix, under the strict CSP."""

import pytest
from playwright.sync_api import expect

from incidents.models import PriorityMatrixEntry
from tests.browser import AsgiServer, free_port, off_the_loop

PORTS = range(19200, 19300)
PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's


@pytest.fixture
def server(tmp_path):
    server = AsgiServer(free_port(PORTS), tmp_path / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_priority_preview_follows_impact_and_urgency(responder, server, browser):
    off_the_loop(
        lambda: PriorityMatrixEntry.objects.update_or_create(
            impact=3, urgency=3, defaults={"priority": "P3"}
        )
    )
    errors = []
    page = browser.new_context().new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(f"{server.url}/login/?next=/incidents/new/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/incidents/new/")
    preview = page.locator("#priority-preview")

    expect(preview).to_have_text("This will be P3.")  # the form's 2 × 2
    page.locator("#id_impact").select_option("1")
    expect(preview).to_have_text("This will be P2.")
    page.locator("#id_urgency").select_option("1")
    expect(preview).to_have_text("This will be P1.")
    page.locator("#id_impact").select_option("3")
    page.locator("#id_urgency").select_option("3")
    expect(preview).to_have_text("This will be P3.")  # the configured cell, not the default P4
    assert errors == []  # no script error, no CSP violation
