"""Chat relay: a war room posts its incident's timeline to its Slack or Teams channels, through
the notification machinery: rows written in the event's transaction, sent and retried by the
worker. An event is relayed as the room is when it is written, so the events of the
transaction that declares the room, written before it, are not (its declaration is)."""

from incidents.choices import EventType
from incidents.models import IncidentEvent
from itsm.notifications import notify_chat
from warroom.models import MajorIncident

# Notifications are themselves recorded on the timeline: relaying them would loop. An
# incident's first event is written before it can have a war room: no query to find none.
NOT_RELAYED = {EventType.NOTIFICATION, EventType.CREATED}
# The events that end a room are the last it relays, so its channels learn it ended.
LAST_WORDS = {"demoted", "close"}


def relay_event(*, event: IncidentEvent) -> None:
    """Inside the event's transaction: one query when the incident has no war room."""
    if event.type in NOT_RELAYED:
        return
    major = MajorIncident.objects.filter(incident_id=event.incident_id).first()
    if major is None or not (major.is_live or _ends_the_room(event)):
        return
    major.incident = event.incident  # in memory: its number names the posts
    webhooks = list(major.chat_webhooks.filter(active=True))
    if not webhooks:
        return
    who = event.actor.get_username() if event.actor else "system"
    notify_chat(
        webhooks=webhooks,
        subject=f"[{major.number}] {event.summary}",
        body=f"{event.get_type_display()} by {who} at {event.at:%H:%M:%S} UTC",
        link=major.get_absolute_url(),
        context={"incident": major.number, "event": event.pk},
        dedupe_key=f"warroom:relay:{event.pk}",
    )


def _ends_the_room(event: IncidentEvent) -> bool:
    return event.type == EventType.WARROOM and event.data.get("action") in LAST_WORDS
