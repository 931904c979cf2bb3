"""The war room in a real browser: Debian's Chromium driven by Playwright, against the
production ASGI server (uvicorn, in its own process) serving the test database. Also the
Content-Security-Policy in that browser: the pages break none of it.

Two people open one war room: a note from one reaches the other, both type in the scratchpad
at the same time and both sentences survive, on both screens and in the database. The server
then dies and comes back: the pages say so, reconnect by themselves and catch up on what was
written meanwhile. The browser's merge is also held to the Python merge's expected results.
"""

import json
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from incidents.choices import ChangeSource
from tests.browser import HOST, PASSWORD, AsgiServer, off_the_loop, sign_in
from warroom import services
from warroom.models import MajorIncident

MERGE_CASES = Path(__file__).with_name("merge_cases.json")
MERGED_TEXT_JS = Path(settings.BASE_DIR) / "static" / "js" / "merged-text.js"
SEEN_WITHIN_MS = 2000  # what another person's change may take to show
# Reconnecting: the page retries after 0.5, 1, 2, 4… s (jittered) while the server restarts.
RECONNECT_WITHIN_MS = 15000

PAD = "Findings:\nActions:"
SENTENCE_A = " the payment gateway pool is exhausted"  # typed after "Findings:"
SENTENCE_B = " page the database team"  # typed after "Actions:"
MERGED = f"Findings:{SENTENCE_A}\nActions:{SENTENCE_B}"
AFTER_THE_CRASH = f"Findings:{SENTENCE_A} again\nActions:{SENTENCE_B} now"


# --- the people -------------------------------------------------------------------------------


def open_room(browser, server: AsgiServer, username: str, room: str, log: dict):
    """`username` signed in and looking at the room, live (tests.browser.sign_in)."""
    page = sign_in(browser, server, username, room, log)
    expect(page.locator("#wr-connection")).to_have_text("live", timeout=10000)
    return page


def seen_within(locator, text: str, *, timeout: int = SEEN_WITHIN_MS) -> float:
    """Wait until `locator` shows `text` (or a textarea holds it); the seconds it took."""
    started = time.monotonic()
    if locator.evaluate("node => node.tagName") == "TEXTAREA":
        expect(locator).to_have_value(re.compile(re.escape(text)), timeout=timeout)
    else:
        expect(locator).to_contain_text(text, timeout=timeout)
    return time.monotonic() - started


def put_caret(page, at: int) -> None:
    page.locator("#wr-scratchpad").evaluate(
        "(pad, at) => { pad.focus(); pad.setSelectionRange(at, at); }", at
    )


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_people_work_one_war_room_live_and_survive_a_server_crash(
    major, responder, manager, stakeholder, server, browser
):
    room = major.get_absolute_url()

    off_the_loop(
        lambda: services.scratchpad_update(major=major, actor=manager, base_version=0, text=PAD)
    )
    log = defaultdict(list)
    rita = open_room(browser, server, "rita", room, log)
    mona = open_room(browser, server, "mona", room, log)
    pads = {page: page.locator("#wr-scratchpad") for page in (rita, mona)}
    took = {}

    # Each sees the other arrive.
    took["presence"] = seen_within(rita.locator("#wr-presence"), "mona")

    # A note from one reaches the other.
    rita.locator("#wr-note").fill("Rolled back release 4.2.1 <b>not bold</b>")
    rita.get_by_role("button", name="Add note").click()
    took["note"] = seen_within(mona.locator("#wr-timeline"), "Rolled back release 4.2.1")
    assert mona.locator("#wr-timeline b").count() == 0  # shown as text, never as HTML
    assert not log["errors"]

    # Both type at once, keystroke for keystroke, on different lines of the same text.
    put_caret(rita, len("Findings:"))
    put_caret(mona, len(PAD))
    for n in range(max(len(SENTENCE_A), len(SENTENCE_B))):
        for page, sentence in ((rita, SENTENCE_A), (mona, SENTENCE_B)):
            if n < len(sentence):
                page.keyboard.type(sentence[n])
        time.sleep(0.03)
    took["rita's words at mona"] = seen_within(pads[mona], SENTENCE_A.strip())
    took["mona's words at rita"] = seen_within(pads[rita], SENTENCE_B.strip())
    for page, pad in pads.items():
        expect(pad).to_have_value(MERGED, timeout=SEEN_WITHIN_MS)
        expect(page.locator("#wr-scratchpad-status")).to_contain_text("Saved")
    assert off_the_loop(lambda: MajorIncident.objects.get(pk=major.pk).scratchpad) == MERGED

    # A stakeholder watches: the same room, nothing to write with.
    stella = open_room(browser, server, "stella", room, log)
    expect(stella.locator("#wr-scratchpad")).to_have_value(MERGED)
    expect(stella.locator("#wr-scratchpad")).not_to_be_editable()
    expect(stella.locator("#wr-timeline")).to_contain_text("Rolled back release 4.2.1")
    assert stella.locator("#warroom form, #warroom button").count() == 0
    stella.context.close()

    # The server crashes: the pages say so, and both people keep typing.
    last_seen = rita.locator("#wr-timeline li").first.get_attribute("data-id")
    server.kill()
    for page in (rita, mona):
        expect(page.locator("#wr-connection")).to_have_text("reconnecting…", timeout=5000)
    put_caret(rita, len(f"Findings:{SENTENCE_A}"))
    rita.keyboard.type(" again")
    put_caret(mona, len(MERGED))
    mona.keyboard.type(" now")
    off_the_loop(
        lambda: services.note_add(
            major=major, actor=manager, source=ChangeSource.CLI, text="Written while you were away"
        )
    )

    # It comes back: both reconnect by themselves, catch up, and send what they typed (the
    # second to reconnect merges the first's words into its own before it sends).
    server.start()
    for page in (rita, mona):
        expect(page.locator("#wr-connection")).to_have_text("live", timeout=RECONNECT_WITHIN_MS)
    for username in ("rita", "mona"):  # asking only for what it missed
        socket = f"ws://{HOST}:{server.port}/ws/warroom/{major.number}/?since={last_seen}"
        assert [url for url in log[username] if "/ws/warroom/" in url][-1] == socket
    for page, pad in pads.items():
        expect(page.locator("#wr-timeline")).to_contain_text("Written while you were away")
        assert page.locator("#wr-timeline li", has_text="Rolled back release 4.2.1").count() == 1
        expect(pad).to_have_value(AFTER_THE_CRASH, timeout=SEEN_WITHIN_MS)
    saved = off_the_loop(lambda: MajorIncident.objects.get(pk=major.pk).scratchpad)
    assert saved == AFTER_THE_CRASH
    assert not log["errors"]
    print("seen after (s):", {what: round(seconds, 3) for what, seconds in took.items()})


# Every violation of the page's Content-Security-Policy, as the browser reports it to the page.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) =>
  window.reportCspViolation(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}`)
);
"""

INJECT_INLINE_SCRIPT = """() => {
  const script = document.createElement("script");
  script.textContent = "window.injected = true";
  document.body.append(script);
}"""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_pages_keep_to_the_content_security_policy(major, manager, server, browser):
    context = browser.new_context()
    violations, errors = [], []
    context.expose_binding("reportCspViolation", lambda source, what: violations.append(what))
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and violations.append(message.text)
        ),
    )

    page.goto(f"{server.url}/login/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.goto(f"{server.url}{major.get_absolute_url()}")
    expect(page.locator("#wr-connection")).to_have_text("live", timeout=10000)
    for path in ("/oncall/", "/admin/", "/admin/incidents/incident/"):
        assert page.goto(f"{server.url}{path}").ok, path
    page.goto(f"{server.url}/account/two-factor/")
    expect(page.locator(".qr-code svg")).to_be_visible()
    page.goto(f"{server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ITSM incident portal API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()

    assert violations == [] and errors == []
    # What an injected script would try: the policy stops it, and the listener hears of it.
    page.evaluate(INJECT_INLINE_SCRIPT)
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.injected") is None
    assert any(violation.startswith("script-src") for violation in violations), violations


def test_the_browser_merges_like_the_server(browser):
    """Every case of tests/warroom/merge_cases.json (the Python merge's) through the page's
    merge3, in Chromium."""
    cases = json.loads(MERGE_CASES.read_text())
    page = browser.new_page()
    page.set_content("<!doctype html><title>merge</title>")
    page.add_script_tag(path=MERGED_TEXT_JS)

    merged = page.evaluate(
        "cases => cases.map(c => window.MergedText.merge3(c.base, c.current, c.incoming))",
        cases,
    )

    wrong = [
        {"case": case.get("name", n), "expected": case["expected"], "browser": result}
        for n, (case, result) in enumerate(zip(cases, merged, strict=True))
        if result != case["expected"]
    ]
    assert cases and not wrong
