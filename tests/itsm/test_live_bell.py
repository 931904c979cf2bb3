"""The bell's websocket, `ws/notifications/` (docs/live-pages.md), through the whole ASGI
application: its snapshot, and the count that rises with a new in-app notification for its
user (only theirs) and falls as one is read."""

import pytest
from django.utils import timezone

from itsm.choices import NotificationChannel
from itsm.notifications import notification_mark_read, notify
from tests.live_ws import close_code, listening, receives_nothing
from tests.warroom._ws import db, in_event_loop

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("fresh_channel_layers"),
]

BELL = "/ws/notifications/"


def page(user, subject: str, *, channels=None):
    """Notify `user` as the escalation does when it pages them; the in-app row, if any."""
    rows = notify(
        recipients=[user],
        subject=subject,
        body="Checkout returns 500",
        link="/incidents/INC0000001/",
        dedupe_key=f"test:{subject}",
        channels=channels,
    )
    return next((row for row in rows if row.channel == NotificationChannel.IN_APP), None)


@in_event_loop
async def test_the_bell_needs_a_login_and_a_role(nobody):
    assert await close_code(None, BELL) == 4401
    assert await close_code(nobody, BELL) == 4403


@in_event_loop
async def test_the_snapshot_holds_the_unread_count_and_the_newest_notifications(responder):
    await db(page)(responder, "Older page")
    read = await db(page)(responder, "Read already")
    await db(notification_mark_read)(notification=read, now=timezone.now())

    async with listening(responder, BELL) as bell:
        snapshot = bell.snapshot
    assert snapshot["unread"] == 1
    assert [(n["subject"], n["unread"]) for n in snapshot["latest"]] == [
        ("Read already", False),
        ("Older page", True),
    ]


@in_event_loop
async def test_a_page_received_raises_its_users_count_and_nobody_elses(
    responder, manager, stakeholder
):
    async with listening(responder, BELL) as mine, listening(manager, BELL) as theirs:
        assert mine.snapshot["unread"] == 0
        await db(page)(responder, "[P1] INC0000001 paged you")
        changed = await mine.next("notifications")
        assert changed["unread"] == 1
        assert changed["latest"][0]["subject"] == "[P1] INC0000001 paged you"
        inbox = f"inbox.{responder.pk}"  # numbered, so that a lost one shows (live-pages.md)
        assert changed["stream"] == inbox and changed["seq"] > mine.snapshot["seqs"][inbox]
        assert changed["latest"][0]["link"] == "/incidents/INC0000001/"
        assert await receives_nothing(theirs)

        await db(page)(stakeholder, "Stakeholder update", channels=[NotificationChannel.EMAIL])
        assert await receives_nothing(mine)


@in_event_loop
async def test_reading_a_notification_lowers_the_count_on_every_open_page(responder):
    notification = await db(page)(responder, "Paged")
    async with listening(responder, BELL) as one, listening(responder, BELL) as other:
        assert one.snapshot["unread"] == 1
        await db(notification_mark_read)(notification=notification, now=timezone.now())
        for bell in (one, other):
            assert (await bell.next("notifications"))["unread"] == 0
