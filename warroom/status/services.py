"""Every write of the public status page (docs/status-page.md).

Like the war room's, each is atomic and locks what it changes. A status update locks the
incident's row first, then its public face (StatusIncident), and records a public event on the
incident's timeline. The system (actor None: a communications template that posts by itself)
may post; people need `warroom.add_statusupdate` (ITSM managers, super admins) or to be the
communications lead or incident commander of the incident's live war room.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from incidents.choices import ChangeSource, EventType
from incidents.models import Incident, Service
from incidents.services import change_reason
from incidents.sla import services as sla
from incidents.timeline import incident_record_event
from itsm.errors import ConflictError, PermissionDeniedError
from itsm.validation import choice, clean_text, raise_if
from warroom.choices import (
    ACTIVE_MAINTENANCE,
    COMPONENT_SEVERITY,
    INDICATOR_OF,
    ComponentStatus,
    MaintenanceStatus,
    MajorIncidentState,
    StatusIncidentStatus,
    WarRoomRole,
)
from warroom.models import (
    COMPONENT_DESCRIPTION_MAX_LENGTH,
    MANAGE_MAINTENANCE_PERMISSION,
    MANAGE_STATUS_PERMISSION,
    POST_STATUS_PERMISSION,
    STATUS_BODY_MAX_LENGTH,
    STATUS_NAME_MAX_LENGTH,
    AffectedComponent,
    ComponentGroup,
    Maintenance,
    MaintenanceUpdate,
    RoleAssignment,
    StatusComponent,
    StatusImpact,
    StatusIncident,
    StatusUpdate,
)
from warroom.signals import maintenance_update_posted, status_update_posted

OPERATIONAL = ComponentStatus.OPERATIONAL
RESOLVED = StatusIncidentStatus.RESOLVED
# War-room roles that may post their incident's status page updates without the permission.
POSTING_ROLES = (WarRoomRole.COMMUNICATIONS_LEAD, WarRoomRole.INCIDENT_COMMANDER)
LIVE_ROOM_STATES = (MajorIncidentState.ACTIVE, MajorIncidentState.RESOLVED)
SUMMARY_MAX_LENGTH = 300  # IncidentEvent.summary


def worst(statuses) -> str:
    """The worst of component states (operational for none)."""
    return max(statuses, key=lambda s: COMPONENT_SEVERITY[s], default=OPERATIONAL)


def _require(actor, perm: str, what: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


def _save_with_reason(row, *, actor, source: str, reason: str) -> None:
    row._change_reason = change_reason(reason, actor, source)
    row._history_user = actor
    row.save()


# --- components ----------------------------------------------------------------------------------


@transaction.atomic
def component_create(
    *,
    actor,
    source: str,
    name,
    slug=None,
    description="",
    service: Service | None = None,
    group_name=None,
    position: int = 0,
    public: bool = True,
    status_override="",
) -> StatusComponent:
    """A new line on the status page; `group_name` names its group (made when new)."""
    _require(actor, MANAGE_STATUS_PERMISSION, "manage status page components")
    errors: dict = {}
    name = clean_text(errors, "name", name, required=True, max_length=100)
    slug = clean_text(errors, "slug", slug, required=False, max_length=60) or slugify(name)
    description = clean_text(
        errors,
        "description",
        description,
        required=False,
        max_length=COMPONENT_DESCRIPTION_MAX_LENGTH,
    )
    group_name = clean_text(errors, "group", group_name, required=False, max_length=100)
    if status_override:
        choice(errors, "status", status_override, ComponentStatus)
    if "slug" not in errors and (not slug or slug != slugify(slug)):
        errors["slug"] = "Use letters, digits, hyphens and underscores only."
    if "name" not in errors and StatusComponent.objects.filter(name=name).exists():
        errors["name"] = f"A component named {name!r} exists already."
    if StatusComponent.objects.filter(slug=slug).exists():
        errors["slug"] = f"A component {slug!r} exists already."
    raise_if(errors)
    group = ComponentGroup.objects.get_or_create(name=group_name)[0] if group_name else None
    component = StatusComponent(
        name=name,
        slug=slug,
        description=description,
        service=service,
        group=group,
        position=position,
        public=public,
        status_override=status_override or "",
    )
    _save_with_reason(component, actor=actor, source=source, reason="create")
    return component


@transaction.atomic
def component_set_status(*, component: StatusComponent, actor, source: str, status) -> None:
    """Set a component's state by hand, or (`status` empty) let incidents derive it again."""
    _require(actor, MANAGE_STATUS_PERMISSION, "set a component's state")
    errors: dict = {}
    if status:
        choice(errors, "status", status, ComponentStatus)
    raise_if(errors)
    component = StatusComponent.objects.select_for_update().get(pk=component.pk)
    if component.status_override != (status or ""):
        component.status_override = status or ""
        _save_with_reason(component, actor=actor, source=source, reason="set state")


# --- status updates of incidents -----------------------------------------------------------------


@dataclass(frozen=True)
class ComponentState:
    """A component an update names, and the state the update gives it."""

    component: StatusComponent
    status: str


def may_post_status(actor, incident: Incident) -> bool:
    """Managers, and the communications lead or incident commander of the incident's live war
    room."""
    if actor.has_perm(POST_STATUS_PERMISSION):
        return True
    return RoleAssignment.objects.filter(
        major_incident__incident=incident,
        major_incident__state__in=LIVE_ROOM_STATES,
        role__in=POSTING_ROLES,
        user=actor,
        ended_at__isnull=True,
    ).exists()


def _check_components(errors: dict, components: list[ComponentState]) -> None:
    seen = set()
    for entry in components:
        if not entry.component.public:
            errors["components"] = f"{entry.component.slug} is not a public component."
        elif entry.component.pk in seen:
            errors["components"] = f"{entry.component.slug} is named twice."
        elif entry.status not in ComponentStatus.values:
            errors["components"] = (
                f"{entry.status!r} is not one of {', '.join(ComponentStatus.values)}."
            )
        seen.add(entry.component.pk)


@transaction.atomic
def status_update_post(
    *,
    incident: Incident,
    actor,
    source: str,
    status,
    body,
    components: list[ComponentState] = (),
    name=None,
) -> StatusUpdate:
    """Post a public update of `incident`; its first puts the incident on the status page
    under `name` (default: its title). Components not named keep the state the last update
    gave them (operational when the update resolves the incident)."""
    if actor is not None and not may_post_status(actor, incident):
        raise PermissionDeniedError("You may not post this incident's status page updates.")
    errors: dict = {}
    choice(errors, "status", status, StatusIncidentStatus)
    body = clean_text(errors, "body", body, required=True, max_length=STATUS_BODY_MAX_LENGTH)
    name = clean_text(errors, "name", name, required=False, max_length=STATUS_NAME_MAX_LENGTH)
    _check_components(errors, list(components))
    raise_if(errors)
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    now = timezone.now()
    public = _status_incident_for_update(incident, name=name, now=now)
    update = StatusUpdate.objects.create(
        status_incident=public, status=status, body=body, author=actor, created_at=now
    )
    changes = _apply_component_states(public, update, components)
    _follow_update(public, update, actor=actor, source=source, name=name)
    incident_record_event(
        incident=incident,
        type=EventType.COMMUNICATION,
        actor=actor,
        source=source,
        summary=f"Status page update ({status}): {body}"[:SUMMARY_MAX_LENGTH],
        data={"status_update": update.pk, "status": status, "components": changes},
        public=True,
    )
    sla.timers_on_public_update(incident=incident)  # the stakeholder-update cadence restarts
    status_update_posted.send(sender=StatusUpdate, update_id=update.pk)
    return update


def _status_incident_for_update(incident: Incident, *, name: str, now) -> StatusIncident:
    """The incident's public face, locked; made (unsaved fields filled) by its first update."""
    public = StatusIncident.objects.select_for_update().filter(incident=incident).first()
    if public is not None:
        return public
    public = StatusIncident(
        incident=incident,
        name=name or incident.title,
        status=StatusIncidentStatus.INVESTIGATING,
        started_at=min(incident.started_at, now),
        created_at=now,
    )
    public.save()
    return public


def _apply_component_states(
    public: StatusIncident, update: StatusUpdate, components
) -> dict[str, str]:
    """Write the update's affected components (every component the incident affects, with its
    old and new state) and the incident's current impacts. Returns slug → new state."""
    impacts = {row.component_id: row for row in public.impacts.select_related("component")}
    given = {entry.component.pk: entry for entry in components}
    carried = OPERATIONAL if update.status == RESOLVED else None
    changes = {}
    rows = []
    for component_id in sorted(set(impacts) | set(given)):
        impact = impacts.get(component_id)
        entry = given.get(component_id)
        component = entry.component if entry else impact.component
        old = impact.status if impact else OPERATIONAL
        new = entry.status if entry else (carried or old)
        rows.append(
            AffectedComponent(update=update, component=component, old_status=old, new_status=new)
        )
        changes[component.slug] = new
        if impact is None:
            StatusImpact.objects.create(
                status_incident=public, component=component, status=new, worst_status=new
            )
        elif impact.status != new or worst([impact.worst_status, new]) != impact.worst_status:
            impact.status = new
            impact.worst_status = worst([impact.worst_status, new])
            impact.save(update_fields=["status", "worst_status"])
    AffectedComponent.objects.bulk_create(rows)
    return changes


def _follow_update(public: StatusIncident, update: StatusUpdate, *, actor, source, name) -> None:
    """The incident's public status, impact and times after `update`."""
    public.status = update.status
    public.updated_at = update.created_at
    if name:
        public.name = name
    if update.status == StatusIncidentStatus.MONITORING and public.monitoring_at is None:
        public.monitoring_at = update.created_at
    public.resolved_at = update.created_at if update.status == RESOLVED else None
    # Worst states only ever rise, so the impact is the worst the incident ever reached.
    public.impact = INDICATOR_OF[worst(public.impacts.values_list("worst_status", flat=True))]
    _save_with_reason(public, actor=actor, source=source, reason=f"status update {update.status}")


# --- maintenances --------------------------------------------------------------------------------


@transaction.atomic
def maintenance_create(
    *,
    actor,
    source: str,
    name,
    body,
    scheduled_for,
    scheduled_until,
    components=(),
    status=MaintenanceStatus.SCHEDULED,
) -> Maintenance:
    """Announce a maintenance window; its first update carries `body`."""
    _require(actor, MANAGE_MAINTENANCE_PERMISSION, "schedule maintenances")
    errors: dict = {}
    name = clean_text(errors, "name", name, required=True, max_length=STATUS_NAME_MAX_LENGTH)
    body = clean_text(errors, "body", body, required=True, max_length=STATUS_BODY_MAX_LENGTH)
    choice(errors, "status", status, MaintenanceStatus)
    if scheduled_for and scheduled_until and scheduled_until <= scheduled_for:
        errors["scheduled_until"] = "Must be after scheduled_for."
    private = [c.slug for c in components if not c.public]
    if private:
        errors["components"] = f"Not public: {', '.join(private)}."
    raise_if(errors)
    now = timezone.now()
    maintenance = Maintenance(
        name=name,
        status=status,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    _stamp(maintenance, status, now)
    _save_with_reason(maintenance, actor=actor, source=source, reason="schedule")
    maintenance.components.set(components)
    _maintenance_update(maintenance, status=status, body=body, actor=actor, now=now)
    return maintenance


@transaction.atomic
def maintenance_post_update(*, maintenance: Maintenance, actor, source: str, status, body):
    """Move a maintenance on (scheduled → in progress → verifying → completed) with a public
    note. 409 once it is completed."""
    _require(actor, MANAGE_MAINTENANCE_PERMISSION, "update maintenances")
    errors: dict = {}
    choice(errors, "status", status, MaintenanceStatus)
    body = clean_text(errors, "body", body, required=True, max_length=STATUS_BODY_MAX_LENGTH)
    raise_if(errors)
    maintenance = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
    if maintenance.status == MaintenanceStatus.COMPLETED:
        raise ConflictError(f"The maintenance {maintenance.name!r} is completed.")
    return _move(maintenance, status=status, body=body, actor=actor, source=source)


def _move(maintenance, *, status, body, actor, source, now=None) -> MaintenanceUpdate:
    now = now or timezone.now()
    maintenance.status = status
    maintenance.updated_at = now
    _stamp(maintenance, status, now)
    _save_with_reason(maintenance, actor=actor, source=source, reason=f"update {status}")
    return _maintenance_update(maintenance, status=status, body=body, actor=actor, now=now)


# --- maintenances on the clock (warroom/status/maintenance_clock.py) -----------------------------

STARTED_NOTE = (
    "Scheduled maintenance is currently in progress. We will provide updates as necessary."
)
COMPLETED_NOTE = "The scheduled maintenance has been completed."
# What a maintenance may be in when its window ends (one never started goes straight to done).
UNFINISHED = (MaintenanceStatus.SCHEDULED, *ACTIVE_MAINTENANCE)


def _locked_auto(maintenance: Maintenance) -> Maintenance | None:
    locked = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
    return locked if locked.auto_transition else None


@transaction.atomic
def maintenance_start_on_schedule(*, maintenance: Maintenance, now) -> MaintenanceUpdate | None:
    """At `scheduled_for`, a scheduled maintenance with automatic transitions is in progress
    (its components under maintenance), with a public note by the system. None when it is no
    longer due: a person moved it on, turned the clock off, or its window is over."""
    locked = _locked_auto(maintenance)
    due = (
        locked is not None
        and locked.status == MaintenanceStatus.SCHEDULED
        and locked.scheduled_for <= now < locked.scheduled_until
    )
    return _move_by_clock(locked, due, MaintenanceStatus.IN_PROGRESS, STARTED_NOTE, now)


@transaction.atomic
def maintenance_complete_on_schedule(*, maintenance: Maintenance, now) -> MaintenanceUpdate | None:
    """At `scheduled_until`, an unfinished maintenance with automatic transitions is completed,
    with a public note by the system. None when it is no longer due."""
    locked = _locked_auto(maintenance)
    due = locked is not None and locked.status in UNFINISHED and locked.scheduled_until <= now
    return _move_by_clock(locked, due, MaintenanceStatus.COMPLETED, COMPLETED_NOTE, now)


def _move_by_clock(maintenance, due: bool, status: str, body: str, now):
    if not due:
        return None
    return _move(
        maintenance, status=status, body=body, actor=None, source=ChangeSource.JOB, now=now
    )


@transaction.atomic
def maintenance_set_auto_transition(
    *, maintenance: Maintenance, actor, source: str, auto_transition: bool
) -> Maintenance:
    """Let the clock start and complete the maintenance, or leave that to people."""
    _require(actor, MANAGE_MAINTENANCE_PERMISSION, "update maintenances")
    maintenance = Maintenance.objects.select_for_update().get(pk=maintenance.pk)
    if maintenance.auto_transition != auto_transition:
        maintenance.auto_transition = auto_transition  # not public: updated_at stays
        reason = "automatic transitions " + ("on" if auto_transition else "off")
        _save_with_reason(maintenance, actor=actor, source=source, reason=reason)
    return maintenance


def _maintenance_update(maintenance, *, status, body, actor, now) -> MaintenanceUpdate:
    """The public note; subscribers hear of it once it commits."""
    update = MaintenanceUpdate.objects.create(
        maintenance=maintenance, status=status, body=body, author=actor, created_at=now
    )
    maintenance_update_posted.send(sender=MaintenanceUpdate, update_id=update.pk)
    return update


STAMPS = {
    MaintenanceStatus.IN_PROGRESS: "started_at",
    MaintenanceStatus.VERIFYING: "verifying_at",
    MaintenanceStatus.COMPLETED: "completed_at",
}


def _stamp(maintenance: Maintenance, status: str, now) -> None:
    field = STAMPS.get(status)
    if field and getattr(maintenance, field) is None:
        setattr(maintenance, field, now)
