"""Nags about missed stakeholder updates, on the clock (incidents.clock's `register_tick_work`).

Two deadlines of an active major incident: the initial notification, due INITIAL_DEADLINE after
declaration (met by any public communication event on the incident's timeline: a status page
update), and each stakeholder update measured by the incident's SLA `update` timer: missed at
its target, and again every cadence after it while no update is given. A missed one nags the
room's communications lead, else its incident commander, else its manager, through notify.
Each nag is a `CadenceNag` row, unique per major incident, kind and deadline; rows are locked
with SKIP LOCKED, so any number of clocks and ticks nag once per missed deadline."""

from datetime import datetime, timedelta

from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, QuerySet, Value

from incidents.choices import EventType, SlaKind, SlaTimerState
from incidents.models import IncidentEvent, SlaTimer
from itsm.notifications import notify
from warroom.choices import MajorIncidentState, WarRoomRole
from warroom.models import CadenceNag, MajorIncident, RoleAssignment

INITIAL_WORK = "initial_notification_nags"
UPDATE_WORK = "stakeholder_update_nags"
INITIAL_DEADLINE = timedelta(minutes=15)
NAGGED_ROLES = (WarRoomRole.COMMUNICATIONS_LEAD, WarRoomRole.INCIDENT_COMMANDER)
ACTIVE = MajorIncidentState.ACTIVE


def _nagged(kind: str, due_at) -> Exists:
    return Exists(
        CadenceNag.objects.filter(major_incident=OuterRef("pk"), kind=kind, due_at=due_at)
    )


def due_initial(now: datetime) -> QuerySet[MajorIncident]:
    """Active major incidents declared INITIAL_DEADLINE ago with no public communication yet
    and no nag for it, locked for this clock."""
    communicated = IncidentEvent.objects.filter(
        incident=OuterRef("incident"), type=EventType.COMMUNICATION, public=True
    )
    deadline = OuterRef("declared_at") + INITIAL_DEADLINE
    return (
        MajorIncident.objects.filter(state=ACTIVE, declared_at__lte=now - INITIAL_DEADLINE)
        .exclude(Exists(communicated))
        .exclude(_nagged(CadenceNag.Kind.INITIAL, deadline))
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("declared_at", "pk")
    )


def fire_initial(major: MajorIncident, now: datetime) -> None:
    due_at = major.declared_at + INITIAL_DEADLINE
    _nag(major, CadenceNag.Kind.INITIAL, due_at, "The initial notification is overdue")


def due_updates(now: datetime) -> QuerySet[SlaTimer]:
    """Update timers of active major incidents past their target whose latest missed deadline
    (the target, then every cadence after it) has no nag yet, locked."""
    latest_window = ExpressionWrapper(Value(now) - OuterRef("duration"), DateTimeField())
    nagged = CadenceNag.objects.filter(
        major_incident__incident=OuterRef("incident"),
        kind=CadenceNag.Kind.UPDATE,
        due_at__gte=OuterRef("target_at"),
        due_at__gt=latest_window,
    )
    return (
        SlaTimer.objects.filter(
            kind=SlaKind.UPDATE,
            state__in=(SlaTimerState.RUNNING, SlaTimerState.BREACHED),
            stopped_at__isnull=True,
            target_at__lte=now,
            incident__major_incident__state=ACTIVE,
        )
        .exclude(Exists(nagged))
        .select_related("incident__major_incident")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("target_at", "pk")
    )


def fire_update(timer: SlaTimer, now: datetime) -> None:
    major = timer.incident.major_incident
    _nag(
        major, CadenceNag.Kind.UPDATE, latest_missed(timer, now), "A stakeholder update is overdue"
    )


def latest_missed(timer: SlaTimer, now: datetime) -> datetime:
    """The last deadline before `now` of an update cycle that went on without an update: the
    target, then one every cadence (wall-clock) after it. A clock that was down nags once, for
    the latest, not for every deadline it slept through."""
    cycles = (now - timer.target_at) // timer.duration
    return timer.target_at + cycles * timer.duration


def next_due(after: datetime) -> None:
    """None: every tick (at most a second apart) looks again."""
    return None


def _nag(major: MajorIncident, kind: str, due_at, subject: str) -> None:
    nag, created = CadenceNag.objects.get_or_create(major_incident=major, kind=kind, due_at=due_at)
    if not created:
        return
    incident = major.incident
    notify(
        recipients=nagged_people(major),
        subject=f"{incident.number}: {subject}",
        body=f"{subject} for {incident.number} ({incident.title}); it was due "
        f"{due_at:%Y-%m-%d %H:%M %Z}. Post a status page update from the war room.",
        link=major.get_absolute_url(),
        context={"incident": incident.number},
        dedupe_key=f"cadence-nag:{nag.pk}",
    )


def nagged_people(major: MajorIncident) -> list:
    """The communications lead, else the incident commander, else the manager."""
    holders = {
        a.role: a.user
        for a in RoleAssignment.objects.filter(
            major_incident=major, ended_at__isnull=True, role__in=NAGGED_ROLES
        ).select_related("user")
    }
    person = next((holders[r] for r in NAGGED_ROLES if r in holders), major.manager)
    return [person] if person is not None else []
