"""Sending notifications: email, in-app, Slack and Teams; once per event; retried with back-off
until they are sent or finally failed, never lost; recorded on the incident's timeline.

Tasks run inline (Q_CLUSTER "sync" in the test settings) when the transaction's on-commit
callbacks run, which `committing` makes happen."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from incidents.choices import EventType
from itsm import channels, notifications
from itsm.choices import NotificationChannel, NotificationStatus
from itsm.models import Notification
from itsm.notifications import notifications_retry_due, notify, notify_chat
from itsm.tasks import send_notification
from tests.concurrency import all_succeed
from tests.conftest import BASE, SLACK_PATH, TEAMS_PATH

pytestmark = pytest.mark.usefixtures("portal_base_url")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def breach_message(**overrides):
    return {
        "subject": "SLA breach: INC0000042 not acknowledged",
        "body": "Checkout returns 500 has not been acknowledged within 15 minutes.",
        "link": "/incidents/INC0000042/",
        "context": {"incident": "INC0000042"},
        "dedupe_key": "sla:42:breach",
        **overrides,
    }


def fresh(notification):
    notification.refresh_from_db()
    return notification


# --- email and in-app ------------------------------------------------------------------------


def test_people_get_an_email_and_an_in_app_notification(committing, responder, manager, mailoutbox):
    created = committing(notify, recipients=[responder, manager], **breach_message())

    assert len(created) == 4
    assert {(n.recipient, n.channel) for n in created} == {
        (person, channel) for person in (responder, manager) for channel in ("email", "in_app")
    }
    assert sorted(mail.to[0] for mail in mailoutbox) == [manager.email, responder.email]
    mail = mailoutbox[0]
    assert mail.subject == "SLA breach: INC0000042 not acknowledged"
    assert "has not been acknowledged within 15 minutes" in mail.body
    assert f"{BASE}/incidents/INC0000042/" in mail.body
    for notification in map(fresh, created):
        assert notification.status == NotificationStatus.SENT
        assert notification.attempts == 1
        assert notification.sent_at is not None


def test_notifying_twice_about_one_event_sends_once(committing, responder, mailoutbox):
    first = committing(notify, recipients=[responder, responder], **breach_message())
    again = committing(notify, recipients=[responder], **breach_message())

    assert len(first) == 2
    assert again == []
    assert Notification.objects.filter(recipient=responder).count() == 2
    assert len(mailoutbox) == 1
    assert {n.dedupe_key for n in first} == {
        f"sla:42:breach:{responder.pk}:email",
        f"sla:42:breach:{responder.pk}:in_app",
    }


def test_a_new_event_notifies_again(committing, responder, mailoutbox):
    committing(notify, recipients=[responder], **breach_message())
    committing(notify, recipients=[responder], **breach_message(dedupe_key="sla:42:warning"))

    assert len(mailoutbox) == 2


def test_channels_can_be_chosen_and_deactivated_people_are_skipped(
    committing, responder, make_user, mailoutbox
):
    gone = make_user("gone", is_active=False)

    created = committing(
        notify, recipients=[responder, gone], channels=["in_app"], **breach_message()
    )

    assert [(n.recipient, n.channel) for n in created] == [(responder, "in_app")]
    assert mailoutbox == []


def test_people_are_not_notified_on_a_chat_channel(responder):
    with pytest.raises(ValueError, match="email, in_app"):
        notify(recipients=[responder], channels=["slack"], **breach_message())


def test_a_recipient_without_an_email_address_fails_at_once(committing, make_user, mailoutbox):
    silent = make_user("silent", email="")

    email, in_app = sorted(
        committing(notify, recipients=[silent], **breach_message()), key=lambda n: n.channel
    )

    email, in_app = fresh(email), fresh(in_app)
    assert email.status == NotificationStatus.FAILED
    assert email.last_error == "recipient has no email"
    assert email.next_attempt_at is None
    assert in_app.status == NotificationStatus.SENT
    assert mailoutbox == []


def test_running_the_task_again_sends_nothing_more(committing, responder, mailoutbox):
    email = next(
        n
        for n in committing(notify, recipients=[responder], **breach_message())
        if n.channel == NotificationChannel.EMAIL
    )

    assert send_notification(email.pk) is None
    assert send_notification(email.pk, 1) is None
    assert len(mailoutbox) == 1
    assert fresh(email).attempts == 1


def test_a_send_lost_with_its_worker_is_made_by_the_clock(
    django_capture_on_commit_callbacks, committing, responder, mailoutbox
):
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=False):  # the worker never ran it
            notify(recipients=[responder], channels=["email"], **breach_message())

        assert committing(notifications_retry_due, now=T0 + timedelta(seconds=30)) == 0
        clock.shift(notifications.lease())
        assert committing(notifications_retry_due, now=T0 + notifications.lease()) == 1

    assert [mail.to for mail in mailoutbox] == [[responder.email]]
    assert Notification.objects.get().status == NotificationStatus.SENT


# --- Slack and Teams -------------------------------------------------------------------------


def test_slack_receives_a_header_the_body_and_a_button_to_the_incident(
    committing, slack, webhook_server
):
    [notification] = committing(notify_chat, webhooks=[slack], **breach_message())

    [request] = webhook_server.requests
    assert request["method"] == "POST"
    assert request["path"] == SLACK_PATH
    assert request["headers"]["content-type"].startswith("application/json")
    payload = request["json"]
    assert payload["text"] == "SLA breach: INC0000042 not acknowledged"
    header, section = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "SLA breach: INC0000042 not acknowledged"},
    }
    assert section["type"] == "section"
    assert section["text"] == {
        "type": "plain_text",
        "text": "Checkout returns 500 has not been acknowledged within 15 minutes.",
    }
    button = section["accessory"]
    assert button["type"] == "button"
    assert button["text"]["text"] == "Open INC0000042"
    assert button["url"] == f"{BASE}/incidents/INC0000042/"
    notification = fresh(notification)
    assert notification.channel == NotificationChannel.SLACK
    assert notification.status == NotificationStatus.SENT


def test_teams_receives_a_card_with_the_title_text_and_a_link_button(
    committing, teams, webhook_server
):
    [notification] = committing(notify_chat, webhooks=[teams], **breach_message())

    [request] = webhook_server.requests
    assert request["method"] == "POST"
    assert request["path"] == TEAMS_PATH
    assert request["headers"]["content-type"] == "application/json"
    payload = request["json"]
    assert payload["title"] == "SLA breach: INC0000042 not acknowledged"
    assert payload["text"] == "Checkout returns 500 has not been acknowledged within 15 minutes."
    [button] = payload["potentialAction"]
    assert button["@type"] == "ViewAction"
    assert button["name"] == "Open INC0000042"
    assert button["target"] == [f"{BASE}/incidents/INC0000042/"]
    notification = fresh(notification)
    assert notification.channel == NotificationChannel.TEAMS
    assert notification.status == NotificationStatus.SENT


HOSTILE = (
    "<!channel> @here ping <@U024BE7LH>, see <https://evil.example|Runbook> "
    "or [Runbook](https://evil.example) <b>now</b> & *go*"
)


def test_user_text_sent_to_slack_cannot_ping_or_disguise_a_link(committing, slack, webhook_server):
    committing(notify_chat, webhooks=[slack], **breach_message(subject=HOSTILE, body=HOSTILE))

    payload = webhook_server.requests[0]["json"]
    # The fallback text is mrkdwn: Slack's own escapes make the markup literal text.
    assert payload["text"].startswith("&lt;!channel&gt; @\u2060here ping &lt;@U024BE7LH&gt;")
    assert "&lt;https://evil.example|Runbook&gt;" in payload["text"]
    assert "<" not in payload["text"] and "@here" not in payload["text"]
    # Header and section are plain text, which Slack never reads as mentions or links.
    assert [block["text"]["type"] for block in payload["blocks"]] == ["plain_text", "plain_text"]
    assert payload["blocks"][1]["text"]["text"] == HOSTILE


def test_user_text_sent_to_teams_shows_markup_as_typed(committing, teams, webhook_server):
    committing(notify_chat, webhooks=[teams], **breach_message(subject=HOSTILE, body=HOSTILE))

    payload = webhook_server.requests[0]["json"]
    for text in (payload["title"], payload["text"]):
        assert "<" not in text and "](" not in text.replace("\\](", "")
        assert "\\[Runbook\\](https://evil.example)" in text
        assert "&lt;b&gt;now&lt;/b&gt; &amp; \\*go\\*" in text


def test_a_message_without_a_link_has_no_button(committing, slack, teams, webhook_server):
    committing(notify_chat, webhooks=[slack, teams], **breach_message(link="", context={}))

    slack_payload, teams_payload = sorted(
        (r["json"] for r in webhook_server.requests), key=lambda p: "blocks" not in p
    )
    assert "accessory" not in slack_payload["blocks"][1]
    assert "potentialAction" not in teams_payload


def test_each_webhook_is_posted_to_once_per_event(committing, slack, teams, webhook_server):
    committing(notify_chat, webhooks=[slack, teams, slack], **breach_message())
    committing(notify_chat, webhooks=[slack, teams], **breach_message())

    assert sorted(r["path"] for r in webhook_server.requests) == sorted([SLACK_PATH, TEAMS_PATH])


def test_an_inactive_webhook_is_not_posted_to(committing, slack, webhook_server):
    slack.active = False
    slack.save()

    assert committing(notify_chat, webhooks=[slack], **breach_message()) == []
    assert webhook_server.requests == []


def test_a_webhook_whose_variable_is_unset_fails_saying_so(
    committing, slack, webhook_server, monkeypatch
):
    monkeypatch.delenv("SLACK_WEBHOOK_OPS")

    [notification] = committing(notify_chat, webhooks=[slack], **breach_message())

    notification = fresh(notification)
    assert notification.status == NotificationStatus.FAILED
    assert notification.last_error == "SLACK_WEBHOOK_OPS is not set"
    assert webhook_server.requests == []


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("webhook", ["slack", "teams"])
def test_a_failing_endpoint_is_retried_with_back_off_then_marked_failed(
    request, committing, webhook_server, webhook
):
    hook = request.getfixturevalue(webhook)
    webhook_server.statuses = [500] * notifications.MAX_ATTEMPTS
    waits = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10)]
    waits.append(timedelta(minutes=30))

    with time_machine.travel(T0, tick=False) as clock:
        [notification] = committing(notify_chat, webhooks=[hook], **breach_message())
        for attempt, wait in enumerate(waits, start=1):
            notification = fresh(notification)
            assert notification.status == NotificationStatus.PENDING
            assert notification.attempts == attempt
            assert "HTTP 500" in notification.last_error
            assert notification.next_attempt_at == timezone.now() + wait
            assert len(webhook_server.requests) == attempt

            clock.shift(wait - timedelta(seconds=1))
            assert committing(notifications_retry_due, now=timezone.now()) == 0  # not yet due
            clock.shift(timedelta(seconds=1))
            assert committing(notifications_retry_due, now=timezone.now()) == 1

    notification = fresh(notification)
    assert notification.status == NotificationStatus.FAILED
    assert notification.attempts == notifications.MAX_ATTEMPTS
    assert notification.next_attempt_at is None
    assert "HTTP 500" in notification.last_error and "upstream exploded" in notification.last_error
    assert len(webhook_server.requests) == notifications.MAX_ATTEMPTS
    # every attempt carried the same message
    assert len({json.dumps(r["json"], sort_keys=True) for r in webhook_server.requests}) == 1
    assert committing(notifications_retry_due, now=T0 + timedelta(days=1)) == 0


def test_an_endpoint_that_recovers_gets_the_message_once(committing, slack, webhook_server):
    webhook_server.statuses = [500, 503]

    with time_machine.travel(T0, tick=False) as clock:
        [notification] = committing(notify_chat, webhooks=[slack], **breach_message())
        clock.shift(timedelta(seconds=30))
        committing(notifications_retry_due, now=timezone.now())
        clock.shift(timedelta(minutes=2))
        committing(notifications_retry_due, now=timezone.now())
        clock.shift(timedelta(hours=1))
        assert committing(notifications_retry_due, now=timezone.now()) == 0

    notification = fresh(notification)
    assert notification.status == NotificationStatus.SENT
    assert notification.attempts == 3
    assert notification.sent_at == T0 + timedelta(seconds=30) + timedelta(minutes=2)
    assert "HTTP 503" in notification.last_error  # the history of the last failure is kept
    assert len(webhook_server.requests) == 3


def test_an_unreachable_endpoint_is_retried(committing, slack, webhook_server, monkeypatch):
    webhook_server.shutdown()
    webhook_server.server_close()

    with time_machine.travel(T0, tick=False):
        [notification] = committing(notify_chat, webhooks=[slack], **breach_message())

    notification = fresh(notification)
    assert notification.status == NotificationStatus.PENDING
    assert "Slack webhook unreachable" in notification.last_error
    assert notification.next_attempt_at == T0 + timedelta(seconds=30)


def test_a_stale_task_from_before_a_failure_does_not_retry_early(committing, slack, webhook_server):
    webhook_server.statuses = [500]
    with time_machine.travel(T0, tick=False):
        [notification] = committing(notify_chat, webhooks=[slack], **breach_message())

        assert send_notification(notification.pk, 0) is None

    assert fresh(notification).attempts == 1
    assert len(webhook_server.requests) == 1


# --- the incident's timeline -----------------------------------------------------------------


def test_sent_notifications_are_written_on_the_incident_timeline(
    committing, incident, responder, slack
):
    message = breach_message(
        context={"incident": incident.number}, link=incident.get_absolute_url()
    )

    committing(notify, recipients=[responder], **message)
    committing(notify_chat, webhooks=[slack], **message)

    events = incident.events.filter(type=EventType.NOTIFICATION)
    assert sorted(event.summary for event in events) == [
        f"{channel} sent to {to}: SLA breach: INC0000042 not acknowledged"
        for channel, to in [("Email", "rita"), ("In-app", "rita"), ("Slack", "#ops")]
    ]
    slack_event = events.get(data__channel="slack")
    assert slack_event.actor is None
    assert slack_event.data["status"] == "sent"
    assert slack_event.data["to"] == "#ops"


def test_a_finally_failed_notification_is_written_on_the_timeline(
    committing, incident, slack, monkeypatch
):
    monkeypatch.delenv("SLACK_WEBHOOK_OPS")

    committing(
        notify_chat, webhooks=[slack], **breach_message(context={"incident": incident.number})
    )

    event = incident.events.get(type=EventType.NOTIFICATION)
    assert event.summary == "Slack to #ops failed after 1 attempt: SLACK_WEBHOOK_OPS is not set"
    assert event.data["status"] == "failed"
    assert event.data["error"] == "SLACK_WEBHOOK_OPS is not set"


def test_a_notification_about_no_incident_leaves_timelines_alone(committing, incident, responder):
    before = incident.events.count()

    committing(notify, recipients=[responder], **breach_message(context={}))

    assert incident.events.count() == before


# --- several workers at once (PostgreSQL) ----------------------------------------------------


def on_postgres(test):
    """Real transactions, so the threads see each other's commits; serialized_rollback puts
    back the role groups the transactional test empties."""
    test = pytest.mark.django_db(transaction=True, serialized_rollback=True)(test)
    return pytest.mark.postgres(test)


@on_postgres
@pytest.mark.parametrize("workers", [2, 4])
def test_workers_running_one_send_at_once_post_once(workers, slack, webhook_server):
    webhook_server.delay = 0.3  # the first send is still under way when the others look
    notification = Notification.objects.create(
        channel=NotificationChannel.SLACK,
        webhook=slack,
        subject="Escalation: INC0000042",
        dedupe_key="escalation:1:webhook:1",
    )

    all_succeed(*[lambda: send_notification(notification.pk, 0)] * workers)

    assert len(webhook_server.requests) == 1
    notification = fresh(notification)
    assert notification.status == NotificationStatus.SENT
    assert notification.attempts == 1


@on_postgres
def test_clocks_retrying_at_once_queue_each_notification_once(slack, webhook_server):
    webhook_server.statuses = [500] * 10
    with time_machine.travel(T0, tick=False):
        sent = notify_chat(webhooks=[slack], **breach_message())  # autocommit: sent at once
        assert fresh(sent[0]).attempts == 1

        later = T0 + timedelta(minutes=1)
        all_succeed(*[lambda: notifications_retry_due(now=later)] * 3)

    assert fresh(sent[0]).attempts == 2
    assert len(webhook_server.requests) == 2


@on_postgres
def test_two_callers_notifying_about_one_event_at_once_post_once(slack, webhook_server):
    webhook_server.delay = 0.2

    def notify_in_a_transaction():
        with transaction.atomic():
            notify_chat(webhooks=[slack], **breach_message())

    all_succeed(notify_in_a_transaction, notify_in_a_transaction)

    assert Notification.objects.count() == 1
    assert len(webhook_server.requests) == 1
    assert Notification.objects.get().status == NotificationStatus.SENT


def test_an_email_sent_again_carries_the_same_message_id(committing, responder, mailoutbox):
    """A worker that dies after the mail server took the message sends it again: mail clients
    see one message, because the Message-ID comes from the row's dedupe key."""
    created = committing(notify, recipients=[responder], **breach_message())
    [email] = [n for n in created if n.channel == "email"]
    channels.deliver(fresh(email))  # the resend after a crash

    first, again = (mail.extra_headers["Message-ID"] for mail in mailoutbox)
    assert first == again
    assert first.endswith(f"@{urlsplit(BASE).hostname}>")
    other = committing(notify, recipients=[responder], **breach_message(dedupe_key="sla:42:w"))
    assert [n for n in other if n.channel == "email"]
    assert mailoutbox[-1].extra_headers["Message-ID"] != first
