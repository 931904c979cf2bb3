"""Escalation: each incident's ladder of timed pages, started when it is created and stopped
at acknowledgement.

An incident follows the escalation policy of its first service that has one, else its
assignment group's, else the policy of its services' owner teams, else the default. Each level
that applies to the incident's priority becomes an `EscalationStep` due at the incident's start
plus the level's delay. The hooks below run inside incidents/services.py's transactions, on the
locked incident; the clock (incidents/clock.py) calls `escalation_fire_step` for each due step.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from incidents.choices import EventType, IncidentStatus, Transition
from incidents.messages import notification_message
from incidents.models import EscalationLevel, EscalationPolicy, EscalationStep, Incident
from incidents.oncall.services import oncall_at
from incidents.timeline import incident_record_event
from itsm.errors import PermissionDeniedError, ValidationFailed

STOPPED_BY = (Transition.ACKNOWLEDGE, Transition.CANCEL)


# --- which policy, which levels --------------------------------------------------------------


def _policy_levels(incident: Incident) -> QuerySet[EscalationLevel]:
    """The levels of the incident's escalation policy, in order; in two queries."""
    links = list(
        Incident.services.through.objects.filter(incident=incident)
        .order_by("pk")
        .values_list("service__escalation_policy", "service__owner_team__escalation_policy")
    )
    team_policy = incident.team.escalation_policy_id if incident.team_id else None
    candidates = [*(own for own, _ in links), team_policy, *(owner for _, owner in links)]
    chosen = next((pk for pk in candidates if pk is not None), None)
    levels = EscalationLevel.objects.order_by("position")
    return levels.filter(policy=chosen) if chosen else levels.filter(policy__is_default=True)


def _applicable(levels, priority: str) -> list[EscalationLevel]:
    return [level for level in levels if level.applies_to(priority)]


def _pending(incident: Incident) -> QuerySet[EscalationStep]:
    return incident.escalation_steps.filter(fired_at__isnull=True, cancelled_at__isnull=True)


def _create_round(incident: Incident, levels: list[EscalationLevel], *, round: int, base) -> None:
    """One step per level, each due at `base` plus the level's delay."""
    EscalationStep.objects.bulk_create(
        EscalationStep(incident=incident, level=level, round=round, due_at=base + level.delay)
        for level in levels
    )


# --- the hooks incidents/services.py calls -----------------------------------------------------


def escalation_start(*, incident: Incident) -> None:
    """Create the incident's escalation steps from its policy and priority."""
    levels = _applicable(_policy_levels(incident), incident.priority)
    _create_round(incident, levels, round=0, base=incident.started_at)


def escalation_on_transition(*, incident: Incident, transition: str) -> None:
    """Cancel pending steps once the incident is acknowledged (or cancelled)."""
    if transition in STOPPED_BY:
        _pending(incident).update(cancelled_at=timezone.now())


def escalation_retarget(*, incident: Incident) -> None:
    """The priority changed while nobody had acknowledged: add steps for the levels the new
    priority brings in (due from the round's original start, so a time already past fires on
    the clock's next tick) and cancel the pending steps of levels it leaves out."""
    if incident.status != IncidentStatus.NEW:
        return
    steps = list(incident.escalation_steps.select_related("level"))
    levels = (
        EscalationLevel.objects.filter(policy=steps[0].level.policy_id)
        if steps
        else _policy_levels(incident)
    )
    current = max((step.round for step in steps), default=0)
    in_round = {step.level_id: step for step in steps if step.round == current}
    base = next((step.due_at - step.level.delay for step in in_round.values()), incident.started_at)
    wanted = _applicable(levels, incident.priority)
    now = timezone.now()
    for step in in_round.values():
        if step.fired_at is None:
            _switch(step, on=step.level in wanted, now=now)
    missing = [level for level in wanted if level.pk not in in_round]
    _create_round(incident, missing, round=current, base=base)


def _switch(step: EscalationStep, *, on: bool, now) -> None:
    """Cancel a pending step, or bring back one that a priority change had cancelled."""
    if on == (step.cancelled_at is None):
        return
    step.cancelled_at = None if on else now
    step.save(update_fields=["cancelled_at"])


# --- firing a due step (the clock) -------------------------------------------------------------


def people_to_page(*, users=(), teams=(), schedules=(), at) -> list:
    """Whoever is on call for `schedules` at `at`, then `users`, then the members of `teams`;
    each once, active accounts only. Escalation levels and pages sent by hand both use it."""
    on_call = (oncall_at(schedule=schedule, at=at) for schedule in schedules)
    team_members = get_user_model().objects.filter(teams__in=teams)
    people = [
        *(user for user in on_call if user is not None),
        *users,
        *team_members.order_by("username"),
    ]
    return list(dict.fromkeys(user for user in people if user.is_active))


def escalation_targets(*, level: EscalationLevel, at) -> list:
    """The people `level` pages at `at`: whoever is on call for its schedules, its users and its
    teams' members."""
    return people_to_page(
        users=level.target_users.order_by("username"),
        teams=level.target_teams.all(),
        schedules=level.target_schedules.all(),
        at=at,
    )


def _lock_incident(pk: int) -> Incident | None:
    """The step's incident, locked and fresh; None when another transaction holds it (an
    acknowledgement in progress, say), and the step then stays due for the next tick. The clock
    locks it already; waiting for nothing keeps any other caller, which holds the step first,
    from deadlocking with the services, which lock the incident first and then its steps."""
    return (
        Incident.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
        .filter(pk=pk)
        .first()
    )


def _label(step: EscalationStep) -> str:
    level = step.level
    repeat = f", repeat {step.round}" if step.round else ""
    return f"level {level.position}: {level.name}{repeat}"


def _page(step: EscalationStep, incident: Incident, users: list, now) -> None:
    # Imported when paging, as incidents.sla.services does: creating an incident needs no chat
    # clients.
    from itsm.notifications import notify

    minutes = int((now - incident.started_at).total_seconds() // 60)
    message = notification_message(
        incident,
        headline=incident.title,
        body=(
            f"{incident.number} ({incident.priority}) is not acknowledged {minutes} min after it "
            f"started. You are paged at escalation {_label(step)}.\n\n{incident.title}"
        ),
        dedupe_key=f"escalation:{step.pk}",
        escalation_level=step.level.position,
    )
    notify(recipients=users, **message)


def escalation_fire_step(*, step: EscalationStep, now) -> list[str]:
    """Page the people of a due step, record it on the incident's timeline, and start the next
    round after the last level when the policy repeats. The caller (the clock) holds the step's
    row lock and has checked it is neither fired nor cancelled; `step` is updated in place.
    Returns the usernames paged."""
    with transaction.atomic():
        incident = _lock_incident(step.incident_id)
        if incident is None or step.fired_at or step.cancelled_at:
            return []
        if incident.status != IncidentStatus.NEW:
            step.cancelled_at = now
            step.save(update_fields=["cancelled_at"])
            return []
        users = escalation_targets(level=step.level, at=step.due_at)
        if users:
            _page(step, incident, users, now)
        step.fired_at = now
        step.paged = [user.get_username() for user in users]
        step.save(update_fields=["fired_at", "paged"])
        _record_page(step, incident)
        _maybe_repeat(step, incident, now)
        return step.paged


def _record_page(step: EscalationStep, incident: Incident) -> None:
    label = _label(step)
    summary = (
        f"Paged {', '.join(step.paged)} ({label})"
        if step.paged
        else f"Nobody to page ({label}): no targets, or nobody on call"
    )
    incident_record_event(
        incident=incident,
        type=EventType.ESCALATION,
        summary=summary,
        data={
            "step": step.pk,
            "level": step.level.position,
            "level_name": step.level.name,
            "round": step.round,
            "paged": step.paged,
        },
    )


def _maybe_repeat(step: EscalationStep, incident: Incident, now) -> None:
    """After the last level of a round, the ladder runs again (first level at once, the others
    at their delays after it) while rounds remain."""
    policy = step.level.policy
    levels = _applicable(policy.levels.all(), incident.priority)
    if step.round >= policy.repeat_count or not levels or step.level != levels[-1]:
        return
    _create_round(incident, levels, round=step.round + 1, base=now - levels[0].delay)


# --- policies ----------------------------------------------------------------------------------


def _validate_levels(levels: list[dict]) -> list[str]:
    positions = [level["position"] for level in levels]
    errors = [
        f"{level['name']}: the delay cannot be negative."
        for level in levels
        if level["delay"].total_seconds() < 0
    ]
    if len(set(positions)) != len(positions):
        errors.append("Each level needs its own position.")
    return errors


@transaction.atomic
def escalation_policy_create(
    *,
    actor,
    slug: str,
    name: str,
    description: str = "",
    is_default: bool = False,
    repeat_count: int = 0,
    levels=(),
) -> EscalationPolicy:
    """A policy with its levels. Each level is a dict of position, name, delay, priorities
    (empty: all) and target_users, target_teams, target_schedules. A new default policy takes
    over from the previous one."""
    if not actor.has_perm("incidents.add_escalationpolicy"):
        raise PermissionDeniedError("You do not have permission to do this.")
    levels = list(levels)
    errors = _validate_levels(levels)
    if errors:
        raise ValidationFailed.for_fields({"levels": errors})
    if is_default:
        EscalationPolicy.objects.filter(is_default=True).update(is_default=False)
    policy = EscalationPolicy.objects.create(
        slug=slug,
        name=name,
        description=description,
        is_default=is_default,
        repeat_count=repeat_count,
    )
    targets = ("target_users", "target_teams", "target_schedules")
    for data in levels:
        level = EscalationLevel.objects.create(
            policy=policy, **{key: value for key, value in data.items() if key not in targets}
        )
        for field in targets:
            getattr(level, field).set(data.get(field, ()))
    return policy
