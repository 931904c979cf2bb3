"""Fixtures the tests of the whole API share."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from drf_spectacular.generators import EndpointEnumerator

from incidents.alerts.services import integration_create
from incidents.choices import PayloadOutcome
from incidents.models import (
    Alert,
    AlertGroup,
    BusinessCalendar,
    ReceivedPayload,
    Rotation,
    RotationMember,
    Schedule,
    WorkingHours,
)
from itsm.choices import AuthEventKind
from itsm.models import AuthEvent, Notification, WebhookSubscription
from postmortems.action_items import action_item_create
from postmortems.credits.services import credit_statement_freeze, customer_create
from postmortems.models import FollowUp, PostIncidentReview, ReviewMeeting
from tests.factories import make_incident
from warroom import services as warroom
from warroom.choices import WarRoomRole
from warroom.communications.services import communication_draft
from warroom.status.services import maintenance_create

CLI = "cli"


@pytest.fixture
def world(manager, responder, stakeholder, service, team):
    """An incident with a review (a follow-up, a meeting), a major incident with a role, a
    task and notes, a schedule, a calendar and a notification: each path parameter's real
    values, by the path segment before it."""
    incident = make_incident(actor=responder, services=[service.slug], team=team)
    review = PostIncidentReview.objects.create(
        incident=incident, due_at=datetime(2026, 1, 7, tzinfo=UTC)
    )
    followup = FollowUp.objects.create(
        review=review, role=WarRoomRole.SCRIBE, assignee=responder, text="Collect TODOs"
    )
    meeting = ReviewMeeting.objects.create(
        review=review, starts_at=datetime(2026, 12, 9, 10, tzinfo=UTC)
    )
    meeting.attendees.set([manager, responder])
    p1 = make_incident(actor=responder, services=[service.slug], impact=1, urgency=1)
    major = warroom.major_incident_declare(
        incident=p1, actor=manager, source=CLI, manager=manager, initial_impact_statement="Down"
    )
    role = warroom.role_assign(
        major=major, actor=manager, source=CLI, role=WarRoomRole.SCRIBE, user=responder
    )
    task = warroom.task_create(major=major, actor=manager, source=CLI, title="Fail over")
    note = warroom.note_add(major=major, actor=manager, source=CLI, text="Failing over")
    schedule = Schedule.objects.create(slug="primary", name="Primary", team=team)
    rotation = Rotation.objects.create(
        schedule=schedule,
        name="Daily",
        handoff_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        shift_length=timedelta(days=1),
    )
    RotationMember.objects.create(rotation=rotation, user=responder, position=1)
    calendar = BusinessCalendar.objects.create(slug="office", name="Office")
    WorkingHours.objects.create(calendar=calendar, weekday=0, start=time(9), end=time(17))
    action_item = action_item_create(
        incident=incident,
        actor=manager,
        source=CLI,
        title="Add alerting",
        owner=responder,
        due_date=date(2026, 1, 30),
    )
    maintenance = maintenance_create(
        actor=manager,
        source=CLI,
        name="Upgrade",
        body="Short pauses.",
        scheduled_for=datetime(2026, 1, 10, 22, tzinfo=UTC),
        scheduled_until=datetime(2026, 1, 10, 23, tzinfo=UTC),
    )
    draft = communication_draft(incident=p1, kind="update", actor=responder, source=CLI)
    integration = integration_create(
        actor=None, name="Prometheus", kind="alertmanager", service=service
    )
    group = AlertGroup.objects.create(
        integration=integration, key='{}:{alertname="DiskFull"}', incident=incident
    )
    Alert.objects.create(group=group, fingerprint="5f0c3a1e", status="firing")
    kept = ReceivedPayload.objects.create(
        integration=integration, body="{}", outcome=PayloadOutcome.INVALID, error="{}"
    )
    customer = customer_create(
        actor=None, name="Acme", services=[service], tiers=[], availability_target=99, monthly_fee=1
    )
    statement, _ = credit_statement_freeze(customer=customer, month=date(2026, 1, 1))
    return {
        "incidents": [incident.number, p1.number],
        "communications": [draft.pk],
        "major-incidents": [major.number],
        "services": [service.slug],
        "teams": [team.slug],
        "sla-policies": ["response-workflow"],
        "calendars": [calendar.slug],
        "schedules": [schedule.slug],
        "escalation-policies": ["default"],
        "declaration-rules": ["unacknowledged", "affected_users"],
        "roles": [role.pk],
        "tasks": [task.pk],
        "timeline": [note.pk],
        "notifications": list(Notification.objects.values_list("pk", flat=True)),
        "action-items": [action_item.pk],
        "sections": ["root_cause"],
        "followups": [followup.pk],
        "maintenances": [maintenance.pk],
        "alerts": [group.pk],
        "payloads": [kept.pk],
        "customers": [customer.pk],
        "statements": [statement.pk],
        "auth-events": [AuthEvent.objects.create(kind=AuthEventKind.LOGIN, user=manager).pk],
        "webhooks": [
            WebhookSubscription.objects.create(
                name="Ops", url="https://hooks.example.org/itsm", event_types=["incident.created"]
            ).pk
        ],
    }


def _real_values(world, path: str) -> dict:
    """For each parameter of `path`, the real values of the segment before it."""
    segments = path.strip("/").split("/")
    return {
        segment.strip("{}"): world[before]
        for before, segment in pairwise(segments)
        if segment.startswith("{")
    }


def real_values(world, path: str) -> dict:
    """For each parameter of `path` (`/api/incidents/{number}/`), the real values of the
    segment before it."""
    segments = path.strip("/").split("/")
    return {
        segment.strip("{}"): world[before]
        for before, segment in pairwise(segments)
        if segment.startswith("{")
    }


def api_routes() -> list[str]:
    """Every route of the API, as the schema writes it (`/api/incidents/{number}/`)."""
    return sorted({path for path, *_ in EndpointEnumerator().get_api_endpoints()})


def concrete_path(world, route: str) -> str:
    """`route` with each parameter naming a real object of `world`."""
    for name, values in real_values(world, route).items():
        route = route.replace("{" + name + "}", str(values[0]))
    return route
