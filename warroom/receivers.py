"""Receivers of the incident core's signals, inside the transaction of the write they report
(incidents/signals.py). What is a write of the war room's own is done there, so it commits
with the change: the declaration watch is armed or cancelled, a war room with chat channels
relays the timeline event (notification rows, sent and retried by the worker). What must wait
for the commit is recorded in the outbox (itsm/outbox.py) and carried out by the worker until
done: the major incident follows its incident (locking the major incident inside the
incident's transaction could deadlock with the war room's own writes, which lock it first),
the declaration rules look at a new incident and every change that could make one major, a
change of an incident's public status drafts its status page update, and a public update
tells the status page's subscribers. Each handler is idempotent: run twice, it acts once."""

from django.dispatch import receiver

from incidents.choices import IncidentStatus
from incidents.models import Incident
from incidents.signals import (
    alert_rule_declares_major,
    demo_directory_seeded,
    demo_seeded,
    incident_created,
    incident_priority_changed,
    incident_transitioned,
    incident_updated,
    timeline_event_recorded,
)
from itsm import outbox
from warroom import demo, relay, rules, services, tasks
from warroom.communications.services import changes_public_status
from warroom.models import MajorIncident
from warroom.signals import maintenance_update_posted, status_update_posted

FOLLOW = "warroom.follow_incident"
AFFECTED_USERS = "warroom.affected_users"
STATUS_PAGE_DRAFT = "warroom.status_page_draft"
SUBSCRIBERS_STATUS_UPDATE = tasks.SUBSCRIBERS_STATUS_UPDATE
SUBSCRIBERS_MAINTENANCE_UPDATE = tasks.SUBSCRIBERS_MAINTENANCE_UPDATE


@receiver(incident_transitioned, dispatch_uid="warroom.follow_incident")
def follow_incident(sender, incident_id, **kwargs):
    if MajorIncident.objects.filter(incident_id=incident_id).exists():
        outbox.enqueue(FOLLOW, {"incident_id": incident_id})


def follow_incident_now(payload: dict) -> None:
    """The incident's status when the worker runs, not the transition's: an item retried after
    a later transition's must not take the major incident back."""
    status = Incident.objects.filter(pk=payload["incident_id"]).values_list("status", flat=True)
    if status:
        services.major_incident_follow(incident_id=payload["incident_id"], to_status=status[0])


@receiver(incident_transitioned, dispatch_uid="warroom.status_page_draft")
def queue_status_page_draft(sender, from_status, to_status, event_id, **kwargs):
    """A failing draft never undoes the transition; it is retried, and a person can always
    draft by hand. Whether the incident is on the status page is the handler's question: the
    request asks the database nothing more."""
    if changes_public_status(from_status, to_status):
        outbox.enqueue(STATUS_PAGE_DRAFT, {"event_id": event_id})


@receiver(timeline_event_recorded, dispatch_uid="warroom.relay_timeline")
def relay_timeline_event(sender, event, **kwargs):
    relay.relay_event(event=event)


@receiver(alert_rule_declares_major, dispatch_uid="warroom.alert_rule_declares")
def declare_for_alert_rule(sender, incident_id, rule, **kwargs):
    rules.declare_for_alert_rule(incident_id=incident_id, rule=rule)


@receiver(incident_created, dispatch_uid="warroom.rules_on_create")
def apply_rules_to_new_incident(sender, incident_id, priority, created_at, **kwargs):
    rules.watch_start(incident_id=incident_id, priority=priority, since=created_at)
    queue_affected_users_check(incident_id, priority)


@receiver(incident_priority_changed, dispatch_uid="warroom.rules_on_priority")
def apply_rules_to_new_priority(sender, incident_id, new_priority, **kwargs):
    rules.watch_arm(incident_id=incident_id)
    queue_affected_users_check(incident_id, new_priority)


def queue_affected_users_check(incident_id: int, priority: str) -> None:
    """Most incidents are not of the rule's priority: for them, nothing is queued (and no
    worker woken) to find that out."""
    if rules.affected_users_rule_covers(priority):
        outbox.enqueue(AFFECTED_USERS, {"incident_id": incident_id})


@receiver(incident_updated, dispatch_uid="warroom.rules_on_services")
def apply_rules_to_new_services(sender, incident_id, fields, **kwargs):
    if "services" in fields:
        outbox.enqueue(AFFECTED_USERS, {"incident_id": incident_id})


@receiver(incident_transitioned, dispatch_uid="warroom.rules_on_transition")
def stop_watching_acknowledged(sender, incident_id, from_status, **kwargs):
    if from_status == IncidentStatus.NEW:
        rules.watch_cancel(incident_id=incident_id)


@receiver(status_update_posted, dispatch_uid="warroom.subscribers_status_update")
def queue_subscribers_of_status_update(sender, update_id, **kwargs):
    """The worker writes the emails, never the request."""
    outbox.enqueue(SUBSCRIBERS_STATUS_UPDATE, {"update_id": update_id})


@receiver(maintenance_update_posted, dispatch_uid="warroom.subscribers_maintenance_update")
def queue_subscribers_of_maintenance_update(sender, update_id, **kwargs):
    outbox.enqueue(SUBSCRIBERS_MAINTENANCE_UPDATE, {"update_id": update_id})


OUTBOX_HANDLERS = {
    FOLLOW: follow_incident_now,
    AFFECTED_USERS: lambda payload: rules.check_affected_users(**payload),
    STATUS_PAGE_DRAFT: lambda payload: tasks.draft_status_page_update(**payload),
    SUBSCRIBERS_STATUS_UPDATE: lambda payload: tasks.notify_subscribers_of_status_update(**payload),
    SUBSCRIBERS_MAINTENANCE_UPDATE: lambda payload: tasks.notify_subscribers_of_maintenance_update(
        **payload
    ),
}


@receiver(demo_directory_seeded, dispatch_uid="warroom.demo_directory_seeded")
def staff_demo_rules(sender, users, schedules, **kwargs):
    demo.staff_declaration_rules(users=users, schedules=schedules)
    demo.seed_status_components(users=users)
    demo.name_it_leadership(users=users)


@receiver(demo_seeded, dispatch_uid="warroom.demo_seeded")
def seed_demo_war_room(sender, users, **kwargs):
    demo.seed_war_room(users=users)
