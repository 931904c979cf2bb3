"""Chat relay: a war room posts its incident's timeline to its Slack or Teams channels, through
the notification machinery (rows first, sent and retried by the worker)."""

from incidents.choices import EventType
from incidents.models import IncidentEvent
from itsm.notifications import notify_chat
from warroom.models import MajorIncident

# Notifications are themselves recorded on the timeline: relaying them would loop.
NOT_RELAYED = {EventType.NOTIFICATION}
# The events that end a room are the last it relays, so its channels learn it ended.
LAST_WORDS = {"demoted", "close"}


def relay_event(*, event_id: int, incident_id: int, type: str) -> None:
    if type in NOT_RELAYED:
        return
    major = MajorIncident.objects.filter(incident_id=incident_id).select_related("incident").first()
    event = IncidentEvent.objects.filter(pk=event_id).select_related("actor").first()
    if major is None or event is None or not (major.is_live or _ends_the_room(event)):
        return
    webhooks = list(major.chat_webhooks.filter(active=True))
    if not webhooks:
        return
    who = event.actor.get_username() if event.actor_id else "system"
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
