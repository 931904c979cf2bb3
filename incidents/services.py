"""Every write the incident core makes.

Each function is atomic, locks the incident row, writes exactly one timeline event and one
history row (whose change reason names the write and the user), and publishes to live pages
only after the transaction commits. Views, the API, the admin, jobs and commands call these;
nothing else changes an incident's status.
"""

import inspect
from collections.abc import Iterable
from functools import partial

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import can_proceed

from incidents import signals, webhook_events
from incidents.choices import (
    FINAL_STATUSES,
    AlertStatus,
    ChangeSource,
    ChecklistItem,
    EventType,
    Impact,
    IncidentSource,
    Priority,
    ResolutionCode,
    SlaKind,
    Transition,
    Urgency,
)
from incidents.models import (
    REASON_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    WORK_PERMISSION,
    ChecklistEntry,
    Incident,
    IncidentEvent,
    NumberCounter,
    PriorityMatrixEntry,
    Service,
    Team,
)
from incidents.oncall import escalation
from incidents.sla import services as sla
from incidents.timeline import event_payload, publish_to_pages, record_event
from itsm.errors import ConflictError, InvalidTransition, PermissionDeniedError, ValidationFailed
from itsm.validation import choice, clean_text, one_text, raise_if

DEFAULT_MATRIX = {
    (1, 1): Priority.P1,
    (1, 2): Priority.P2,
    (2, 1): Priority.P2,
    (2, 2): Priority.P3,
    (1, 3): Priority.P3,
    (3, 1): Priority.P3,
}
NUMBER_SEQUENCE = "incidents_incident_number_seq"
NUMBER_WIDTH = 7

EDITABLE_FIELDS = (
    "title",
    "description",
    "impact",
    "urgency",
    "services",
    "team",
    "assignee",
    "affected_users",
    "related_problem",
    "related_change",
    "detected_at",
    "started_at",
)


# --- helpers ---------------------------------------------------------------------------------


def actor_label(actor) -> str:
    """Who did it, as history change reasons and timeline summaries name them."""
    return actor.get_username() if actor is not None else "system"


# django-simple-history's column for the change reason.
CHANGE_REASON_MAX_LENGTH = 100


def change_reason(what: str, actor, source: str) -> str:
    """A history row's change reason, "<what> by <who> (<source>)", cut to fit its column: a
    long list of edited fields or a long username must not fail the write."""
    reason = f"{what} by {actor_label(actor)} ({source})"
    if len(reason) <= CHANGE_REASON_MAX_LENGTH:
        return reason
    return reason[: CHANGE_REASON_MAX_LENGTH - 1] + "…"


def _check_perm(actor, perm: str) -> None:
    """Jobs act as the system (actor None); people need the permission."""
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDeniedError("You do not have permission to do this.")


def _lock(incident: Incident) -> Incident:
    return (
        Incident.objects.select_for_update(of=("self",))
        .select_related("assignee", "team")
        .get(pk=incident.pk)
    )


def _noted(summary: str, note: str) -> dict:
    """The timeline summary and data of a transition with an optional note."""
    return {
        "summary": summary + (f": {note}" if note else ""),
        "data": {"note": note} if note else None,
    }


def priority_for(impact: int, urgency: int) -> str:
    """The priority the configured impact × urgency matrix gives."""
    entry = PriorityMatrixEntry.objects.filter(impact=impact, urgency=urgency).first()
    if entry is not None:
        return entry.priority
    return DEFAULT_MATRIX.get((impact, urgency), Priority.P4)


def next_incident_number() -> str:
    """INC + 7 digits; never reused. PostgreSQL's sequence is not rolled back with a failed
    transaction, so a number once handed out is gone; SQLite uses a counter row, which its
    write lock serialises."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [NUMBER_SEQUENCE])
            value = cursor.fetchone()[0]
    else:
        NumberCounter.objects.get_or_create(name="incident")
        NumberCounter.objects.filter(name="incident").update(value=F("value") + 1)
        value = NumberCounter.objects.get(name="incident").value
    return f"INC{value:0{NUMBER_WIDTH}d}"


def _save_with_history(obj: Incident | Service, *, actor, source: str, reason: str) -> None:
    obj._change_reason = change_reason(reason, actor, source)
    obj._history_user = actor
    obj.save()


# --- create and edit -------------------------------------------------------------------------


def _resolve_services(errors: dict, slugs) -> list[Service]:
    if slugs is None:
        return []
    if isinstance(slugs, str) or not isinstance(slugs, Iterable):
        errors["services"] = "Must be a list of service slugs."
        return []
    slugs = list(dict.fromkeys(str(s) for s in slugs))
    found = {s.slug: s for s in Service.objects.filter(slug__in=slugs)}
    unknown = [s for s in slugs if s not in found]
    if unknown:
        errors["services"] = f"Unknown service: {', '.join(unknown)}."
    return [found[s] for s in slugs if s in found]


def _validate_scale(errors: dict, name: str, value, choices) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in choices.values:
        errors[name] = "Must be 1 (high), 2 (medium) or 3 (low)."
        return None
    return value


@transaction.atomic
def incident_create(
    *,
    actor,
    source: str,
    title: str,
    description: str = "",
    impact: int | None = None,
    urgency: int | None = None,
    priority: str | None = None,
    services: Iterable[str] | None = None,
    team: Team | None = None,
    assignee=None,
    incident_source: str | None = None,
    affected_users: int = 0,
    detected_at=None,
    started_at=None,
    related_problem: str = "",
    related_change: str = "",
) -> Incident:
    """Log an incident. Priority comes from impact × urgency, or is given explicitly."""
    _check_perm(actor, "incidents.add_incident")
    errors: dict = {}
    title = clean_text(errors, "title", title, required=True, max_length=TITLE_MAX_LENGTH)
    description = clean_text(
        errors, "description", description, required=False, max_length=TEXT_MAX_LENGTH
    )
    impact = _validate_scale(errors, "impact", impact, Impact)
    urgency = _validate_scale(errors, "urgency", urgency, Urgency)
    if priority is not None:
        priority = choice(errors, "priority", priority, Priority)
    elif impact is None or urgency is None:
        errors.setdefault("priority", "Give impact and urgency, or an explicit priority.")
    incident_source = incident_source or _default_incident_source(source)
    choice(errors, "source", incident_source, IncidentSource)
    service_objs = _resolve_services(errors, services)
    raise_if(errors)

    impact = impact or Impact.MEDIUM
    urgency = urgency or Urgency.MEDIUM
    derived = priority_for(impact, urgency)
    now = timezone.now()
    incident = Incident(
        number=next_incident_number(),
        title=title,
        description=description,
        impact=impact,
        urgency=urgency,
        priority=priority or derived,
        priority_overridden=bool(priority) and priority != derived,
        team=team,
        assignee=assignee,
        reporter=actor,
        source=incident_source,
        affected_users=affected_users,
        detected_at=detected_at or now,
        started_at=started_at or detected_at or now,
        related_problem=related_problem,
        related_change=related_change,
        created_at=now,
    )
    _save_with_history(incident, actor=actor, source=source, reason="create")
    if service_objs:
        incident.services.add(*service_objs)
    record_event(
        incident,
        type=EventType.CREATED,
        actor=actor,
        source=source,
        summary=f"{incident.number} logged as {incident.priority}: {incident.title}",
        data={"priority": incident.priority, "services": [s.slug for s in service_objs]},
    )
    sla.timers_start(incident=incident)
    escalation.escalation_start(incident=incident)
    webhook_events.emit_created(incident, actor=actor)
    signals.incident_created.send(
        sender=Incident,
        incident_id=incident.pk,
        priority=incident.priority,
        created_at=incident.created_at,
    )
    return incident


def _default_incident_source(change_source: str) -> str:
    return IncidentSource.API if change_source == ChangeSource.API else IncidentSource.PORTAL


def _display(value) -> object:
    if hasattr(value, "get_username"):
        return value.get_username()
    if isinstance(value, Team):
        return value.slug
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@transaction.atomic
def incident_update(*, incident: Incident, actor, source: str, **changes) -> Incident:
    """Edit an incident's fields. Impact or urgency changes re-derive the priority unless a
    manager has overridden it. One timeline event lists every field that changed."""
    _check_perm(actor, "incidents.change_incident")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed.for_fields(
            {name: "This field cannot be edited here." for name in sorted(unknown)}
        )
    incident = _lock(incident)
    errors: dict = {}
    if "title" in changes:
        changes["title"] = clean_text(
            errors, "title", changes["title"], required=True, max_length=TITLE_MAX_LENGTH
        )
    if "description" in changes:
        changes["description"] = clean_text(
            errors,
            "description",
            changes["description"],
            required=False,
            max_length=TEXT_MAX_LENGTH,
        )
    for name, scale in (("impact", Impact), ("urgency", Urgency)):
        if name in changes:
            if changes[name] is None:
                errors[name] = "This field may not be null."
            else:
                _validate_scale(errors, name, changes[name], scale)
    new_services = (
        _resolve_services(errors, changes.pop("services")) if "services" in changes else None
    )
    raise_if(errors)

    diff = {}
    for name, value in changes.items():
        old = getattr(incident, name)
        if old != value:
            diff[name] = [_display(old), _display(value)]
            setattr(incident, name, value)
    if new_services is not None:
        old_slugs = sorted(incident.services.values_list("slug", flat=True))
        new_slugs = sorted(s.slug for s in new_services)
        if old_slugs != new_slugs:
            diff["services"] = [old_slugs, new_slugs]
            incident.services.set(new_services)
    old_priority = incident.priority
    if not incident.priority_overridden and ("impact" in diff or "urgency" in diff):
        incident.priority = priority_for(incident.impact, incident.urgency)
        if incident.priority != old_priority:
            diff["priority"] = [old_priority, incident.priority]
    if not diff:
        return incident

    _save_with_history(
        incident, actor=actor, source=source, reason="edit " + ", ".join(sorted(diff))
    )
    record_event(
        incident,
        type=EventType.PRIORITY_CHANGE if "priority" in diff else EventType.FIELD_CHANGE,
        actor=actor,
        source=source,
        summary="Changed " + ", ".join(sorted(diff)),
        data={"changes": diff},
    )
    if "priority" in diff:
        _signal_priority_change(incident, old_priority, actor=actor)
    signals.incident_updated.send(sender=Incident, incident_id=incident.pk, fields=sorted(diff))
    return incident


def _signal_priority_change(incident: Incident, old_priority: str, *, actor) -> None:
    sla.timers_retarget(incident=incident)
    escalation.escalation_retarget(incident=incident)
    webhook_events.emit_priority_changed(incident, actor=actor, old_priority=old_priority)
    signals.incident_priority_changed.send(
        sender=Incident,
        incident_id=incident.pk,
        old_priority=old_priority,
        new_priority=incident.priority,
    )


@transaction.atomic
def incident_change_priority(
    *, incident: Incident, actor, source: str, priority: str, reason: str
) -> Incident:
    """A manager overrides the derived priority, with a reason."""
    _check_perm(actor, "incidents.override_priority")
    errors: dict = {}
    choice(errors, "priority", priority, Priority)
    reason = clean_text(errors, "reason", reason, required=True, max_length=REASON_MAX_LENGTH)
    raise_if(errors)
    incident = _lock(incident)
    if not incident.is_open:
        raise InvalidTransition(
            f"{incident.number} is {incident.get_status_display().lower()}; "
            "its priority can no longer change."
        )
    old = incident.priority
    if old == priority:
        raise ValidationFailed.for_fields({"priority": f"The priority is already {priority}."})
    incident.priority = priority
    incident.priority_overridden = True
    _save_with_history(incident, actor=actor, source=source, reason=f"priority {old}→{priority}")
    record_event(
        incident,
        type=EventType.PRIORITY_CHANGE,
        actor=actor,
        source=source,
        summary=f"Priority {old} → {priority}: {reason}",
        data={"changes": {"priority": [old, priority]}, "reason": reason},
    )
    _signal_priority_change(incident, old, actor=actor)
    return incident


# --- lifecycle -------------------------------------------------------------------------------


def _run_transition(
    incident: Incident,
    name: str,
    *,
    actor,
    source: str,
    prepare=None,
    summary: str,
    data: dict | None = None,
    method_name: str | None = None,
) -> Incident:
    """Lock, check role and state, apply the guard's fields, transition, save, record.
    `method_name` runs another model method under transition `name` (the system's own)."""
    incident = _lock(incident)
    method = getattr(incident, method_name or name)
    if actor is not None and not _may_run(method, actor):
        raise PermissionDeniedError(f"You may not {name} incidents.")
    if not can_proceed(method, check_conditions=False):
        raise InvalidTransition(
            f"Cannot {name} {incident.number}: it is {incident.get_status_display().lower()}."
        )
    if prepare is not None:
        prepare(incident)
    if not can_proceed(method):
        raise InvalidTransition(
            transition_blocker(incident, name)
            or f"Cannot {name} {incident.number}: its guard is not met.",
            fields=_unmet_guard(incident, name),
        )
    old_status = incident.status
    method()
    _save_with_history(incident, actor=actor, source=source, reason=name)
    sla.timers_on_transition(incident=incident, transition=name)
    escalation.escalation_on_transition(incident=incident, transition=name)
    event = record_event(
        incident,
        type=EventType.TRANSITION,
        actor=actor,
        source=source,
        summary=summary,
        data={"transition": name, "from": old_status, "to": incident.status, **(data or {})},
        public=True,
    )
    webhook_events.emit_transitioned(incident, actor=actor, transition=name, from_status=old_status)
    signals.incident_transitioned.send(
        sender=Incident,
        incident_id=incident.pk,
        transition=name,
        from_status=old_status,
        to_status=incident.status,
        event_id=event.pk,
    )
    return incident


def _may_run(method, actor) -> bool:
    """The transition's `permission=`, checked whatever the current state (django-fsm's
    has_transition_perm also checks state and guards, which answer 409, not 403)."""
    meta = method._django_fsm
    return any(t.has_perm(method.__self__, actor) for t in meta.transitions.values())


def allowed_transitions(incident: Incident, actor) -> list[str]:
    """Transitions the actor may start from the incident's current state. Guards are not
    checked: their fields are what the transition's form asks for."""
    names = []
    for transition in incident.get_all_status_transitions():
        if transition.source not in (incident.status, "*"):
            continue
        if actor is None or transition.has_perm(incident, actor):
            names.append(transition.name)
    return [name for name in Transition.values if name in names]


def transition_blocker(incident: Incident, name: str) -> str | None:
    """Why transition `name` cannot run on `incident` now, in words that say what to do; None
    when nothing but its form's own fields (a reason, a note) is missing. Reads the prefetched
    checklist, so a page may ask for every button at no cost."""
    if name == Transition.CLOSE:
        missing = incident.missing_checklist_items()
        if missing:
            labels = dict(ChecklistItem.choices)
            items = ", ".join(labels[key] for key in missing)
            count = (
                "the last checklist item"
                if len(missing) == 1
                else f"the {len(missing)} checklist items"
            )
            return f"Tick {count} left: {items}."
    return None


def _unmet_guard(incident: Incident, name: str) -> dict:
    if name == Transition.CLOSE:
        labels = dict(ChecklistItem.choices)
        return {
            "checklist": [
                f"Not ticked: {labels[key]}" for key in incident.missing_checklist_items()
            ]
        }
    return {}


@transaction.atomic
def incident_acknowledge(*, incident: Incident, actor, source: str, note: str = "") -> Incident:
    """Someone owns it now; the actor becomes the assignee when there is none."""
    note = one_text("note", note, required=False, max_length=TEXT_MAX_LENGTH)

    def prepare(locked):
        if locked.assignee_id is None and actor is not None:
            locked.assignee = actor

    return _run_transition(
        incident,
        Transition.ACKNOWLEDGE,
        actor=actor,
        source=source,
        prepare=prepare,
        **_noted(f"Acknowledged by {actor_label(actor)}", note),
    )


@transaction.atomic
def incident_start(*, incident: Incident, actor, source: str, note: str = "") -> Incident:
    note = one_text("note", note, required=False, max_length=TEXT_MAX_LENGTH)
    return _run_transition(
        incident,
        Transition.START,
        actor=actor,
        source=source,
        **_noted("Investigation started", note),
    )


@transaction.atomic
def incident_hold(*, incident: Incident, actor, source: str, reason: str) -> Incident:
    reason = one_text("reason", reason, required=True, max_length=REASON_MAX_LENGTH)

    def prepare(locked):
        locked.hold_reason = reason

    return _run_transition(
        incident,
        Transition.HOLD,
        actor=actor,
        source=source,
        prepare=prepare,
        summary=f"On hold: {reason}",
        data={"reason": reason},
    )


@transaction.atomic
def incident_resume(*, incident: Incident, actor, source: str, note: str = "") -> Incident:
    note = one_text("note", note, required=False, max_length=TEXT_MAX_LENGTH)
    return _run_transition(
        incident,
        Transition.RESUME,
        actor=actor,
        source=source,
        **_noted("Resumed", note),
    )


@transaction.atomic
def incident_mitigate(*, incident: Incident, actor, source: str, note: str) -> Incident:
    """Service is restored or worked around; the note says how."""
    note = one_text("note", note, required=True, max_length=TEXT_MAX_LENGTH)

    def prepare(locked):
        locked.mitigation_note = note

    return _run_transition(
        incident,
        Transition.MITIGATE,
        actor=actor,
        source=source,
        prepare=prepare,
        summary=f"Mitigated: {note}",
        data={"note": note},
    )


@transaction.atomic
def incident_resolve(
    *,
    incident: Incident,
    actor,
    source: str,
    resolution_code: str,
    resolution_notes: str,
    confirm: bool = False,
) -> Incident:
    """Resolve; while alerts of the incident still fire, a person must `confirm` (409)."""
    errors: dict = {}
    if not resolution_code:
        errors["resolution_code"] = "This field is required."
    else:
        choice(errors, "resolution_code", resolution_code, ResolutionCode)
    notes = clean_text(
        errors, "resolution_notes", resolution_notes, required=True, max_length=TEXT_MAX_LENGTH
    )
    raise_if(errors)

    def prepare(locked):
        if actor is not None and not confirm:
            _refuse_while_alerts_fire(locked)
        locked.resolution_code = resolution_code
        locked.resolution_notes = notes

    label = ResolutionCode(resolution_code).label
    return _run_transition(
        incident,
        Transition.RESOLVE,
        actor=actor,
        source=source,
        prepare=prepare,
        summary=f"Resolved ({label}): {notes}",
        data={"resolution_code": resolution_code, "resolution_notes": notes},
    )


@transaction.atomic
def incident_alerts_cleared(
    *,
    incident: Incident,
    action: str,
    note: str,
    source: str = ChangeSource.ALERT,
    data: dict | None = None,
) -> Incident:
    """Every alert of the incident has resolved: mitigate or resolve it (`action`), as the
    system, from any open status before that one (nobody may have acknowledged it yet), with
    resolution code `auto_resolved`. An acknowledge timer still running is cancelled: nobody
    acknowledged, and nobody needs to now."""
    note = note[:TEXT_MAX_LENGTH]
    if action == Transition.MITIGATE:

        def prepare(locked):
            locked.mitigation_note = note

        summary, result = f"Mitigated: {note}", {"note": note}
    else:
        code = ResolutionCode.AUTO_RESOLVED

        def prepare(locked):
            locked.resolution_code = code
            locked.resolution_notes = note

        summary = f"Resolved ({code.label}): {note}"
        result = {"resolution_code": code, "resolution_notes": note}
    incident = _run_transition(
        incident,
        action,
        actor=None,
        source=source,
        prepare=prepare,
        summary=summary,
        data={**result, **(data or {})},
        method_name=f"alerts_{action}",
    )
    sla.timers_cancel(incident=incident, kinds=[SlaKind.ACKNOWLEDGE])
    return incident


@transaction.atomic
def incident_reopen(*, incident: Incident, actor, source: str, reason: str) -> Incident:
    reason = one_text("reason", reason, required=True, max_length=REASON_MAX_LENGTH)
    return _run_transition(
        incident,
        Transition.REOPEN,
        actor=actor,
        source=source,
        summary=f"Reopened: {reason}",
        data={"reason": reason},
    )


@transaction.atomic
def incident_close(*, incident: Incident, actor, source: str, note: str = "") -> Incident:
    """Close a resolved incident whose closure checklist is complete."""
    note = one_text("note", note, required=False, max_length=TEXT_MAX_LENGTH)
    return _run_transition(
        incident,
        Transition.CLOSE,
        actor=actor,
        source=source,
        **_noted("Closed", note),
    )


@transaction.atomic
def incident_cancel(
    *, incident: Incident, actor, source: str, reason: str, duplicate_of: str | None = None
) -> Incident:
    """Cancel a false positive or a duplicate (give the original's number)."""
    errors: dict = {}
    reason = clean_text(errors, "reason", reason, required=True, max_length=REASON_MAX_LENGTH)
    original = None
    if duplicate_of:
        original = Incident.objects.filter(number=str(duplicate_of).strip().upper()).first()
        if original is None:
            errors["duplicate_of"] = f"No incident {duplicate_of}."
        elif original.pk == incident.pk:
            errors["duplicate_of"] = "An incident cannot duplicate itself."
    raise_if(errors)

    def prepare(locked):
        locked.cancel_reason = reason
        locked.duplicate_of = original

    suffix = f" (duplicate of {original.number})" if original else ""
    return _run_transition(
        incident,
        Transition.CANCEL,
        actor=actor,
        source=source,
        prepare=prepare,
        summary=f"Cancelled: {reason}{suffix}",
        data={"reason": reason, "duplicate_of": original.number if original else None},
    )


@transaction.atomic
def incident_take(*, incident: Incident, actor, source: str) -> Incident:
    """The actor becomes the assignee of an open incident, taking it over from whoever had it."""
    if actor is None:
        raise PermissionDeniedError("Only a person can take an incident.")
    _check_perm(actor, WORK_PERMISSION)
    incident = _lock(incident)
    if not incident.is_open:
        raise InvalidTransition(
            f"{incident.number} is {incident.get_status_display().lower()}; "
            "it can no longer be taken."
        )
    if incident.assignee_id == actor.pk:
        raise ConflictError(f"{incident.number} is already yours.")
    previous = incident.assignee
    incident.assignee = actor
    _save_with_history(incident, actor=actor, source=source, reason="take")
    record_event(
        incident,
        type=EventType.FIELD_CHANGE,
        actor=actor,
        source=source,
        summary=f"Taken by {actor_label(actor)}"
        + (f" from {previous.get_username()}" if previous else ""),
        data={"changes": {"assignee": [_display(previous), _display(actor)]}},
    )
    signals.incident_updated.send(sender=Incident, incident_id=incident.pk, fields=["assignee"])
    return incident


TRANSITION_SERVICES = {
    Transition.ACKNOWLEDGE: incident_acknowledge,
    Transition.START: incident_start,
    Transition.HOLD: incident_hold,
    Transition.RESUME: incident_resume,
    Transition.MITIGATE: incident_mitigate,
    Transition.RESOLVE: incident_resolve,
    Transition.REOPEN: incident_reopen,
    Transition.CLOSE: incident_close,
    Transition.CANCEL: incident_cancel,
}


def transition_fields(name: str) -> dict[str, bool]:
    """The guard's fields of a transition, each mapped to whether it is required."""
    params = inspect.signature(TRANSITION_SERVICES[name]).parameters
    return {
        p.name: p.default is inspect.Parameter.empty
        for p in params.values()
        if p.name not in {"incident", "actor", "source"}
    }


def _refuse_while_alerts_fire(incident: Incident) -> None:
    """A 409 naming the alerts still firing: resolving would hide a problem monitoring sees."""
    firing = incident.alert_groups.filter(status=AlertStatus.FIRING, firing_count__gt=0)
    count = sum(firing.values_list("firing_count", flat=True))
    if count:
        alerts = f"{count} alert{'s' if count > 1 else ''} of {incident.number} still fire"
        raise ConflictError(
            f'{alerts}: confirm to resolve it anyway (API: "confirm": true).',
            fields={"confirm": [f"{alerts}. Tick to resolve it anyway."]},
        )


def incident_transition(*, incident: Incident, name: str, actor, source: str, **fields) -> Incident:
    """Run transition `name` with the guard's fields; unknown fields are refused."""
    if name not in TRANSITION_SERVICES:
        raise ValidationFailed.for_fields({"transition": f"Unknown transition {name!r}."})
    allowed = transition_fields(name)
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValidationFailed.for_fields({field: f"Not a field of {name}." for field in unknown})
    missing = {
        f: "This field is required." for f, req in allowed.items() if req and f not in fields
    }
    if missing:
        raise ValidationFailed.for_fields(missing)
    return TRANSITION_SERVICES[name](incident=incident, actor=actor, source=source, **fields)


# --- the CMDB ---------------------------------------------------------------------------------


@transaction.atomic
def service_create(*, actor, source: str, depends_on: Iterable[Service] = (), **fields) -> Service:
    """Add a service to the CMDB; its history row names the user, as incidents' do."""
    _check_perm(actor, "incidents.add_service")
    service = Service(**fields)
    _save_with_history(service, actor=actor, source=source, reason="create")
    if depends_on:
        service.depends_on.add(*depends_on)
    return service


# --- notes and the checklist -------------------------------------------------------------------


@transaction.atomic
def incident_add_note(
    *, incident: Incident, actor, source: str, text: str, public: bool = False
) -> IncidentEvent:
    _check_perm(actor, "incidents.add_incidentevent")
    text = one_text("text", text, required=True, max_length=TEXT_MAX_LENGTH)
    incident = _lock(incident)
    if public:
        sla.timers_on_public_update(incident=incident)
    event = record_event(
        incident,
        type=EventType.NOTE,
        actor=actor,
        source=source,
        summary=text,
        data={"text": text},
        public=public,
    )
    webhook_events.emit_note_added(incident, event, actor=actor)
    return event


@transaction.atomic
def incident_event_pin(*, event: IncidentEvent, actor, pinned: bool) -> IncidentEvent:
    """Pin a timeline event to the top of the war room (or unpin it). Live pages are told;
    the timeline itself gets no new event for it."""
    _check_perm(actor, WORK_PERMISSION)
    incident = _lock(event.incident)
    event = IncidentEvent.objects.select_for_update().get(pk=event.pk)
    if event.pinned != pinned:
        event.pinned = pinned
        event.save(update_fields=["pinned"])
        payload = event_payload(event, incident) | {"kind": "timeline.pinned"}
        transaction.on_commit(partial(publish_to_pages, incident.number, payload))
    return event


@transaction.atomic
def incident_tick_checklist(
    *, incident: Incident, actor, source: str, item: str, done: bool = True
) -> Incident:
    """Tick (or untick) one closure-checklist item; who ticked it and when is kept. Only a
    person can vouch for an item, so jobs (actor None) may not tick."""
    if actor is None:
        raise PermissionDeniedError("Only a person can tick the closure checklist.")
    _check_perm(actor, "incidents.work_incident")
    errors: dict = {}
    choice(errors, "item", item, ChecklistItem)
    raise_if(errors)
    incident = _lock(incident)
    if incident.status in FINAL_STATUSES:
        raise InvalidTransition(
            f"{incident.number} is {incident.get_status_display().lower()}; "
            "its checklist can no longer change."
        )
    existing = ChecklistEntry.objects.filter(incident=incident, item=item).first()
    if done == (existing is not None):
        raise InvalidTransition(
            f"“{ChecklistItem(item).label}” is already {'ticked' if done else 'unticked'}."
        )
    if done:
        ChecklistEntry.objects.create(
            incident=incident, item=item, ticked_by=actor, ticked_at=timezone.now()
        )
    else:
        existing.delete()
    verb = "ticked" if done else "unticked"
    record_event(
        incident,
        type=EventType.CHECKLIST,
        actor=actor,
        source=source,
        summary=f"Checklist: {ChecklistItem(item).label} {verb}",
        data={"item": item, "done": done},
    )
    return incident
