"""Receivers of the incident core's signals: the major incident follows its incident, and a
war room with chat channels relays its timeline to them."""

from django.dispatch import receiver

from incidents.signals import incident_transitioned, timeline_event_recorded
from warroom import relay, services


@receiver(incident_transitioned, dispatch_uid="warroom.follow_incident")
def follow_incident(sender, incident_id, to_status, **kwargs):
    services.major_incident_follow(incident_id=incident_id, to_status=to_status)


@receiver(timeline_event_recorded, dispatch_uid="warroom.relay_timeline")
def relay_timeline_event(sender, event_id, incident_id, type, **kwargs):
    relay.relay_event(event_id=event_id, incident_id=incident_id, type=type)
