"""Receivers of the incident core's signals: the major incident follows its incident, a war
room with chat channels relays its timeline to them, and the declaration rules
(warroom.rules) look at every new incident and every change that could make one major, and a
change of an incident's public status queues the job that drafts its status page update. And of
the war room's own: a public update queues the job that emails the status page's subscribers."""

from django.dispatch import receiver
from django_q.tasks import async_task

from incidents.choices import IncidentStatus
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
from warroom import demo, relay, rules, services
from warroom.communications.services import changes_public_status
from warroom.signals import maintenance_update_posted, status_update_posted

STATUS_UPDATE_TASK = "warroom.tasks.notify_subscribers_of_status_update"
MAINTENANCE_UPDATE_TASK = "warroom.tasks.notify_subscribers_of_maintenance_update"
STATUS_PAGE_DRAFT_TASK = "warroom.tasks.draft_status_page_update"


@receiver(incident_transitioned, dispatch_uid="warroom.follow_incident")
def follow_incident(sender, incident_id, to_status, **kwargs):
    services.major_incident_follow(incident_id=incident_id, to_status=to_status)


@receiver(incident_transitioned, dispatch_uid="warroom.status_page_draft")
def queue_status_page_draft(sender, from_status, to_status, event_id, **kwargs):
    """After the transition commits, so a failing draft never undoes it (the worker logs the
    failed job; a person can always draft by hand). Whether the incident is on the status page
    is the job's question: the request asks the database nothing more."""
    if changes_public_status(from_status, to_status):
        async_task(STATUS_PAGE_DRAFT_TASK, event_id)


@receiver(timeline_event_recorded, dispatch_uid="warroom.relay_timeline")
def relay_timeline_event(sender, event_id, incident_id, type, **kwargs):
    relay.relay_event(event_id=event_id, incident_id=incident_id, type=type)


@receiver(alert_rule_declares_major, dispatch_uid="warroom.alert_rule_declares")
def declare_for_alert_rule(sender, incident_id, rule, **kwargs):
    rules.declare_for_alert_rule(incident_id=incident_id, rule=rule)


@receiver(incident_created, dispatch_uid="warroom.rules_on_create")
def apply_rules_to_new_incident(sender, incident_id, **kwargs):
    rules.watch_arm(incident_id=incident_id)
    rules.check_affected_users(incident_id=incident_id)


@receiver(incident_priority_changed, dispatch_uid="warroom.rules_on_priority")
def apply_rules_to_new_priority(sender, incident_id, **kwargs):
    rules.watch_arm(incident_id=incident_id)
    rules.check_affected_users(incident_id=incident_id)


@receiver(incident_updated, dispatch_uid="warroom.rules_on_services")
def apply_rules_to_new_services(sender, incident_id, fields, **kwargs):
    if "services" in fields:
        rules.check_affected_users(incident_id=incident_id)


@receiver(incident_transitioned, dispatch_uid="warroom.rules_on_transition")
def stop_watching_acknowledged(sender, incident_id, from_status, **kwargs):
    if from_status == IncidentStatus.NEW:
        rules.watch_cancel(incident_id=incident_id)


@receiver(status_update_posted, dispatch_uid="warroom.subscribers_status_update")
def queue_subscribers_of_status_update(sender, update_id, **kwargs):
    """The signal comes after the commit; the worker writes the emails, never the request."""
    async_task(STATUS_UPDATE_TASK, update_id)


@receiver(maintenance_update_posted, dispatch_uid="warroom.subscribers_maintenance_update")
def queue_subscribers_of_maintenance_update(sender, update_id, **kwargs):
    async_task(MAINTENANCE_UPDATE_TASK, update_id)


@receiver(demo_directory_seeded, dispatch_uid="warroom.demo_directory_seeded")
def staff_demo_rules(sender, users, schedules, **kwargs):
    demo.staff_declaration_rules(users=users, schedules=schedules)
    demo.seed_status_components(users=users)
    demo.name_it_leadership(users=users)


@receiver(demo_seeded, dispatch_uid="warroom.demo_seeded")
def seed_demo_war_room(sender, users, **kwargs):
    demo.seed_war_room(users=users)
