"""The chat relay: a war room posts its incident's timeline to the Slack and Teams channels of
the incident's team, through the notification machinery, against a local HTTP server that
stands in for both (`webhook_server`). Sends run inline when the transaction's on-commit
callbacks run, which `committing` makes happen."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import clock
from incidents import services as incident_services
from incidents.choices import ChangeSource, EventType
from itsm.models import Notification
from tests.conftest import BASE, SLACK_PATH, TEAMS_PATH
from tests.factories import make_incident
from warroom import services

pytestmark = pytest.mark.usefixtures("portal_base_url")

CLI = ChangeSource.CLI


@pytest.fixture
def room(team, slack, teams, responder, declare, committing):
    """An incident of a team with a Slack and a Teams channel, declared major."""
    team.chat_webhooks.set([slack, teams])
    incident = make_incident(actor=responder, team=team, impact=1, urgency=1)
    return committing(declare, incident=incident)


def posts(server, path=SLACK_PATH) -> list[str]:
    """The headlines posted to one channel as a reader sees them: Slack's `text` and Teams'
    `title`, with the escapes each format renders away."""
    if path == SLACK_PATH:
        return [html.unescape(r["json"]["text"]) for r in server.requests if r["path"] == path]
    titles = [r["json"]["title"] for r in server.requests if r["path"] == path]
    return [html.unescape(re.sub(r"\\(.)", r"\1", title)) for title in titles]


def relayed_events(incident) -> int:
    """The timeline events a relay posts: all but the notifications."""
    return incident.events.exclude(type=EventType.NOTIFICATION).count()


def note_on_the_incident(room, actor, text: str):
    """A note written on the incident itself, outside the war room."""
    return incident_services.incident_add_note(
        incident=room.incident, actor=actor, source=CLI, text=text
    )


def test_declaring_posts_the_declaration_to_slack_and_teams(room, webhook_server):
    headline = (
        f"[{room.number}] Declared a major incident. Impact: Checkout fails for every customer"
    )

    assert posts(webhook_server, SLACK_PATH) == [headline]
    assert posts(webhook_server, TEAMS_PATH) == [headline]
    slack_post = next(r["json"] for r in webhook_server.requests if r["path"] == SLACK_PATH)
    _, section = slack_post["blocks"]
    assert section["text"]["text"].startswith("War room by mona at ")
    assert section["accessory"]["url"] == f"{BASE}/warroom/{room.number}/"
    teams_post = next(r["json"] for r in webhook_server.requests if r["path"] == TEAMS_PATH)
    assert teams_post["potentialAction"][0]["target"] == [f"{BASE}/warroom/{room.number}/"]


def test_a_note_in_the_war_room_is_posted(room, responder, webhook_server, committing):
    committing(services.note_add, major=room, actor=responder, source=CLI, text="DB failed over")

    assert posts(webhook_server)[-1] == f"[{room.number}] DB failed over"
    assert posts(webhook_server, TEAMS_PATH)[-1] == f"[{room.number}] DB failed over"


def test_notifications_are_not_relayed_so_nothing_loops(
    room, manager, responder, webhook_server, committing, mailoutbox
):
    """Each relayed post and each person notified is itself recorded on the timeline; only
    the events people made reach the channels, each once."""
    committing(
        services.role_assign,
        major=room,
        actor=manager,
        source=CLI,
        role="incident_commander",
        user=responder,
    )
    committing(services.note_add, major=room, actor=responder, source=CLI, text="Rolled back")

    incident = room.incident
    assert incident.events.filter(type=EventType.NOTIFICATION).count() > 0
    assert mailoutbox  # people were notified, and that was recorded
    assert len(posts(webhook_server, SLACK_PATH)) == relayed_events(incident) - 1 == 3
    assert len(posts(webhook_server, TEAMS_PATH)) == 3
    assert posts(webhook_server)[1:] == [
        f"[{room.number}] rita is now incident commander",
        f"[{room.number}] Rolled back",
    ]


def test_events_of_the_incident_itself_are_relayed(
    room, responder, webhook_server, committing, drive
):
    committing(drive, room.incident, responder, "acknowledge")

    assert posts(webhook_server)[1:] == [f"[{room.number}] Acknowledged by rita"]


def test_an_inactive_webhook_gets_nothing(
    team, slack, teams, responder, declare, webhook_server, committing
):
    slack.active = False
    slack.save()
    team.chat_webhooks.set([slack, teams])
    incident = make_incident(actor=responder, team=team, impact=1, urgency=1)

    room = committing(declare, incident=incident)
    committing(services.note_add, major=room, actor=responder, source=CLI, text="still down")

    assert posts(webhook_server, SLACK_PATH) == []
    assert len(posts(webhook_server, TEAMS_PATH)) == 2
    assert not Notification.objects.filter(webhook=slack).exists()


def test_a_room_without_chat_channels_posts_nothing(
    p1, declare, responder, webhook_server, committing
):
    room = committing(declare, incident=p1)
    committing(services.note_add, major=room, actor=responder, source=CLI, text="still down")

    assert webhook_server.requests == []


def test_a_demoted_room_says_so_then_stops_relaying(
    room, manager, responder, webhook_server, committing
):
    committing(
        services.major_incident_demote, major=room, actor=manager, source=CLI, reason="One user"
    )
    committing(note_on_the_incident, room, responder, "Carrying on as an ordinary incident")

    assert posts(webhook_server) == [
        f"[{room.number}] Declared a major incident. Impact: Checkout fails for every customer",
        f"[{room.number}] Demoted: One user",
    ]


def test_a_closed_room_says_so_then_stops_relaying(
    room, responder, webhook_server, committing, drive
):
    committing(drive, room.incident, responder, "cancel")
    committing(note_on_the_incident, room, responder, "Written after the room closed")

    assert posts(webhook_server)[-1] == f"[{room.number}] Major incident closed with its incident"
    assert not any("after the room closed" in post for post in posts(webhook_server))


def test_a_relay_whose_first_post_fails_is_posted_once_on_retry(
    room, responder, webhook_server, committing
):
    """The relay is written in the note's transaction (one notification per channel); a post
    the channel refuses is retried by the clock after its back-off, and posted once."""
    webhook_server.statuses = [500, 500]  # the first post to each channel
    committing(services.note_add, major=room, actor=responder, source=CLI, text="DB failed over")
    headline = f"[{room.number}] DB failed over"
    relays = Notification.objects.filter(context__event__isnull=False, subject=headline)
    assert sorted(relays.values_list("status", "attempts")) == [("pending", 1)] * 2

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        committing(clock.tick)
        committing(clock.tick)

    assert sorted(relays.values_list("status", "attempts")) == [("sent", 2)] * 2
    for path in (SLACK_PATH, TEAMS_PATH):
        assert posts(webhook_server, path).count(headline) == 2  # refused, then posted
