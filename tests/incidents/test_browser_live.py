"""The live pages in a real browser (Debian's Chromium through Playwright, against uvicorn on
the test database), as tests/warroom/test_browser.py does the war room.

Mona watches the dashboard while Rita, elsewhere (the services, as the API or another web
process would), logs an incident and acknowledges it, and the escalation pages Mona: the
incident appears, its status changes and the bell counts the page, each within 2 s and without a
reload. The server then dies and comes back: the page says so, reconnects and catches up on an
incident logged meanwhile. On an incident's page a note appears as it is written, older events
are shown on demand, and on the notifications page opening a notification marks it read.
"""

import re
import time
from collections import defaultdict

import pytest
from channels.layers import get_channel_layer
from playwright.sync_api import expect

from incidents import services
from incidents.choices import ChangeSource
from incidents.messages import notification_message
from incidents.selectors import TIMELINE_PAGE_SIZE
from itsm.choices import NotificationChannel
from itsm.models import Notification
from itsm.notifications import notify
from tests.browser import log_in, off_the_loop, sign_in
from tests.factories import make_incident
from tests.incidents.test_views_timeline import add_notes

SEEN_WITHIN_MS = 2000  # what another person's change may take to show
RECONNECT_WITHIN_MS = 15000  # retries after 0.5, 1, 2, 4… s (jittered) while the server restarts

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def open_live(browser, server, username: str, path: str, log: dict):
    """`username` signed in and looking at `path`, its socket live."""
    page = sign_in(browser, server, username, path, log)
    expect(page.locator("[data-live-status]")).to_have_text("live", timeout=10000)
    page.evaluate("() => { window.notReloaded = true; }")
    return page


def page_someone(user, incident) -> None:
    """What the escalation sends when it pages `user` about `incident` as it is now."""
    incident.refresh_from_db()
    message = notification_message(
        incident, headline=incident.title, body="You are paged.", dedupe_key=f"page:{incident.pk}"
    )
    notify(recipients=[user], **message)


def row(page, card: str, incident):
    return page.locator(f'section[aria-labelledby="{card}"] .row', has_text=incident.number)


def still_the_same_page(page) -> bool:
    return page.evaluate("() => window.notReloaded === true")


@pytest.mark.redis  # the live pages hear of changes through the channel layer
def test_the_dashboard_shows_a_new_incident_its_acknowledgement_and_the_page_live(
    responder, manager, service, server, browser
):
    log = defaultdict(list)
    mona = open_live(browser, server, "mona", "/", log)
    expect(mona.locator(".bell .bell-count")).to_have_count(0)

    incident = off_the_loop(
        lambda: make_incident(actor=responder, title="Checkout <b>down</b>", priority="P1")
    )
    expect(row(mona, "unack", incident)).to_be_visible(timeout=SEEN_WITHIN_MS)
    expect(row(mona, "recent", incident).locator(".chip")).to_have_text("New")
    assert mona.locator(".dashboard b").count() == 0  # the title is text, never HTML
    badge = row(mona, "recent", incident).locator(".sla[data-target]").first
    expect(badge).to_contain_text("left")

    off_the_loop(
        lambda: services.incident_acknowledge(
            incident=incident, actor=responder, source=ChangeSource.API
        )
    )
    expect(row(mona, "recent", incident).locator(".chip")).to_have_text(
        "Acknowledged", timeout=SEEN_WITHIN_MS
    )
    expect(row(mona, "unack", incident)).to_have_count(0)

    off_the_loop(lambda: page_someone(manager, incident))
    expect(mona.locator(".bell .bell-count")).to_have_text("1", timeout=SEEN_WITHIN_MS)
    assert still_the_same_page(mona)

    # The server crashes; an incident is logged while it is down; it comes back.
    server.kill()
    expect(mona.locator("[data-live-status]")).to_have_text("reconnecting…", timeout=5000)
    missed = off_the_loop(lambda: make_incident(actor=responder, title="Logged while away"))
    server.start()
    expect(mona.locator("[data-live-status]")).to_have_text("live", timeout=RECONNECT_WITHIN_MS)
    expect(row(mona, "recent", missed)).to_be_visible(timeout=SEEN_WITHIN_MS)
    [*_, reconnected] = (url for url in log["mona"] if "/ws/incidents/" in url)
    assert "?since=" in reconnected  # asking only for what it missed
    assert still_the_same_page(mona)
    assert not log["errors"]


@pytest.mark.redis  # the live pages hear of changes through the channel layer
def test_an_incident_page_and_the_notifications_page_are_live(
    responder, manager, incident, server, browser
):
    log = defaultdict(list)
    mona = open_live(browser, server, "mona", incident.get_absolute_url(), log)

    off_the_loop(
        lambda: services.incident_add_note(
            incident=incident,
            actor=responder,
            source=ChangeSource.API,
            text="Rolled back <i>4.2</i>",
        )
    )
    timeline = mona.locator('[data-live-part="timeline"]')
    expect(timeline.locator("li").first).to_contain_text(
        "Rolled back <i>4.2</i>", timeout=SEEN_WITHIN_MS
    )
    off_the_loop(
        lambda: services.incident_acknowledge(
            incident=incident, actor=responder, source=ChangeSource.API
        )
    )
    expect(mona.locator('[data-live-part="head"] .chip')).to_have_text(
        "Acknowledged", timeout=SEEN_WITHIN_MS
    )
    actions = mona.locator('[data-live-part="actions"]')
    expect(actions.locator(".action-acknowledge")).to_have_count(0, timeout=SEEN_WITHIN_MS)
    expect(actions.locator(".action-start")).to_have_count(1)
    assert timeline.locator("li", has_text="Rolled back").count() == 1
    assert still_the_same_page(mona)

    # The notifications page: a page arrives in the list; opening it marks it read.
    mona.goto(f"{server.url}/notifications/")
    expect(mona.locator(".bell")).to_be_visible()
    mona.wait_for_timeout(300)  # the bell's socket opens
    off_the_loop(lambda: page_someone(manager, incident))
    unread = mona.locator(".notification-unread .row-link")
    expect(unread).to_have_count(1, timeout=SEEN_WITHIN_MS)
    expect(mona.locator(".bell .bell-count")).to_have_text("1")
    unread.click()
    mona.wait_for_url(f"{server.url}{incident.get_absolute_url()}")
    expect(mona.locator(".bell .bell-count")).to_have_count(0)
    in_app = Notification.objects.filter(channel=NotificationChannel.IN_APP)
    assert off_the_loop(lambda: in_app.filter(read_at__isnull=True).count()) == 0
    assert not log["errors"]


def test_sla_badges_count_down_and_turn_overdue_in_the_browser(responder, server, browser):
    incident = off_the_loop(lambda: make_incident(actor=responder, title="Down", priority="P1"))
    log = defaultdict(list)
    page = browser.new_context().new_page()
    page.on("pageerror", lambda error: log["errors"].append(str(error)))
    page.clock.install(time=time.time())  # the page's clock, which the test moves on
    log_in(page, server, "rita", incident.get_absolute_url())
    badge = page.locator('[data-live-part="head"] .sla', has_text="Acknowledge")
    expect(badge).to_have_text(re.compile(r"Acknowledge 1[45]\s+minutes left"))

    page.clock.run_for("05:00")
    expect(badge).to_have_text(re.compile(r"Acknowledge (9|10)\s+minutes left"))
    expect(badge).to_have_class(re.compile(r"\bsla-running\b"))

    page.clock.run_for("11:00")
    expect(badge).to_have_text(re.compile(r"Acknowledge overdue [01]\s+minutes?"))
    expect(badge).to_have_class(re.compile(r"\bsla-breached\b"))
    assert not log["errors"]


@pytest.mark.redis  # the live pages hear of changes through the channel layer
def test_a_page_catches_up_on_a_lost_message_at_the_next_one_or_at_its_ping(
    responder, manager, incident, server, browser, monkeypatch
):
    """A message lost on its way (a dead connection, a full channel) was still numbered: the
    next message shows the gap (held 2 s in case the missing one was only overtaken), and on a
    quiet page the next ping's answer does; the page then asks for what it missed on the same
    socket (docs/live-pages.md, "Nothing missed")."""
    log = defaultdict(list)
    page = browser.new_context().new_page()
    page.on("pageerror", lambda error: log["errors"].append(str(error)))
    page.on("websocket", lambda socket: log["sockets"].append(socket.url))
    page.clock.install(time=time.time())  # to bring the next ping (every 20 s) forward
    log_in(page, server, "mona", incident.get_absolute_url())
    expect(page.locator("[data-live-status]")).to_have_text("live", timeout=10000)
    timeline = page.locator('[data-live-part="timeline"]')

    def write(text: str, *, lost: bool = False) -> None:
        def note():
            services.incident_add_note(
                incident=incident, actor=responder, source=ChangeSource.API, text=text
            )

        with monkeypatch.context() as patch:
            if lost:
                patch.setattr(get_channel_layer(), "group_send", refuse)
            off_the_loop(note)

    write("Lost on its way", lost=True)
    write("Heard, after a gap")
    page.wait_for_timeout(500)
    page.clock.run_for("00:03")  # the gap still open 2 s later (not reordered): it resyncs
    for text in ("Lost on its way", "Heard, after a gap"):
        expect(timeline.locator("li", has_text=text)).to_have_count(1, timeout=SEEN_WITHIN_MS)

    write("Lost, and nothing after it", lost=True)
    page.clock.run_for("00:21")  # the page pings; the answer says the stream is further on
    page.wait_for_timeout(500)
    page.clock.run_for("00:03")  # not on its way after all: the page resyncs
    expect(timeline.locator("li", has_text="nothing after it")).to_have_count(
        1, timeout=SEEN_WITHIN_MS
    )
    # Caught up on the same socket: no reconnection.
    assert len([url for url in log["sockets"] if "/ws/incidents/" in url]) == 1
    assert not log["errors"]


async def refuse(group, message):
    raise RuntimeError("lost on its way")


@pytest.mark.redis  # the live pages hear of changes through the channel layer
def test_a_long_timeline_shows_its_latest_events_live_and_the_older_ones_on_demand(
    responder, manager, incident, server, browser
):
    off_the_loop(lambda: add_notes(incident, responder, 2 * TIMELINE_PAGE_SIZE + 10))
    total = off_the_loop(incident.events.count)
    log = defaultdict(list)
    mona = open_live(browser, server, "mona", incident.get_absolute_url(), log)
    events = mona.locator("[data-timeline] > li")
    older = mona.locator("[data-timeline-older]")
    expect(events).to_have_count(TIMELINE_PAGE_SIZE)

    off_the_loop(
        lambda: services.incident_add_note(
            incident=incident, actor=responder, source=ChangeSource.API, text="Live at the top"
        )
    )
    expect(events.first).to_contain_text("Live at the top", timeout=SEEN_WITHIN_MS)
    older.click()
    expect(events).to_have_count(2 * TIMELINE_PAGE_SIZE + 1, timeout=SEEN_WITHIN_MS)
    older.click()
    expect(events).to_have_count(total + 1, timeout=SEEN_WITHIN_MS)
    expect(older).to_have_count(0)
    ids = mona.eval_on_selector_all("[data-timeline] > li", "items => items.map(i => i.dataset.id)")
    assert len(set(ids)) == len(ids)  # none shown twice
    assert still_the_same_page(mona)
    assert not log["errors"]
