"""SLA timers: started with the incident, stopped by its transitions, paused on hold,
re-targeted when the priority changes. Called by incidents/services.py inside its transactions
(on the locked incident); the clock (incidents/clock.py) fires their deadlines through
`sla_fire_deadline`.

The rules (SPEC §2):

- An incident is measured against the SLA policy of the first of its services (in the order
  they were linked) that names one, else the default policy. Each target of that policy for the
  incident's priority gives one timer, running from the incident's start.
- A timer stops at its transition: acknowledge at acknowledge; respond at start, or at mitigate
  or resolve when those come first; mitigate at mitigate or resolve; resolve at resolve. Cancel
  cancels every open timer; reopen runs the resolve timer again towards its original target.
  A timer stopped after its target had passed is breached, recorded exactly as the clock would
  have recorded it (breached_at = the target), so the record never depends on how promptly the
  clock ran. A breached timer stays breached.
- On hold, when the policy says so, running timers pause; on resume the time spent paused,
  measured in the timer's own base (wall clock or business time), pushes warning and target back.
- Stakeholder updates: every public timeline entry is an update. That is a public note, and
  every transition, whose timeline event is public (the status page shows it). Each one starts
  the update timer's next cycle from now; resolve and cancel cancel the timer; reopen starts it
  again. A timer's warning and breach are each recorded once (SlaDeadline is unique per timer
  and kind, and notifications are deduplicated by the same key), so an update timer warns in
  one cycle only, and once breached it stays breached and stops cycling.
- A priority change re-targets running and paused timers from their start with the new
  priority's durations (paused time is kept as counted). Kinds the new priority lacks are
  cancelled; kinds it adds are created when still pending in the incident's status.

Policies and calendars are written by `sla_policy_save` and `sla_calendar_save` (the API and
the admin); timers already running keep the targets they were given.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from incidents import webhook_events
from incidents.choices import (
    OPEN_STATUSES,
    DeadlineKind,
    EventType,
    IncidentStatus,
    SlaKind,
    SlaTimerState,
    Transition,
)
from incidents.messages import notification_message
from incidents.models import (
    BusinessCalendar,
    Holiday,
    Incident,
    SlaDeadline,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    WorkingHours,
)
from incidents.sla.business_time import WorkingCalendar, add_business_time, business_time_between
from incidents.timeline import incident_record_event
from itsm.roles import Role

K, S = SlaKind, SlaTimerState

MEETS = {
    Transition.ACKNOWLEDGE: {K.ACKNOWLEDGE},
    Transition.START: {K.RESPOND},
    Transition.MITIGATE: {K.RESPOND, K.MITIGATE},
    Transition.RESOLVE: {K.RESPOND, K.MITIGATE, K.RESOLVE},
}
CANCELS = {Transition.RESOLVE: {K.UPDATE}, Transition.CANCEL: set(K.values)}
REVIVES = {Transition.REOPEN: {K.RESOLVE, K.UPDATE}}
# Statuses in which a kind's transition has not happened yet: a re-target creates timers
# only for these. (On hold the respond timer is not created: the status does not say whether
# investigation had started.)
PENDING_IN = {
    K.ACKNOWLEDGE: {IncidentStatus.NEW},
    K.RESPOND: {IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED},
    K.MITIGATE: {
        IncidentStatus.NEW,
        IncidentStatus.ACKNOWLEDGED,
        IncidentStatus.INVESTIGATING,
        IncidentStatus.ON_HOLD,
    },
    K.RESOLVE: set(OPEN_STATUSES),
    K.UPDATE: set(OPEN_STATUSES),
}
TIMER_FIELDS = [
    "state",
    "policy",
    "duration",
    "business_time",
    "started_at",
    "warn_at",
    "target_at",
    "paused_at",
    "paused_seconds",
    "next_due_at",
    "warned_at",
    "breached_at",
    "stopped_at",
]


# --- time bases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeBase:
    """Wall-clock arithmetic, or business time when it has a calendar."""

    calendar: WorkingCalendar | None = None

    def after(self, start: datetime, duration: timedelta) -> datetime:
        if self.calendar is None:
            return start + duration
        return add_business_time(start, duration, self.calendar)

    def between(self, start: datetime, end: datetime) -> timedelta:
        if self.calendar is None:
            return max(end - start, timedelta(0))
        return business_time_between(start, end, self.calendar)


class TimeBases:
    """The time base of each timer: business time on its policy's calendar, else (also when the
    policy has no calendar) the wall clock. Each calendar is read once per instance."""

    def __init__(self):
        self._by_calendar: dict[int, TimeBase] = {}

    def of(self, timer: SlaTimer) -> TimeBase:
        calendar = timer.policy.calendar
        if not timer.business_time or calendar is None:
            return TimeBase()
        if calendar.pk not in self._by_calendar:
            self._by_calendar[calendar.pk] = TimeBase(calendar.working_calendar())
        return self._by_calendar[calendar.pk]


def _schedule(timer: SlaTimer, bases: TimeBases) -> None:
    """Warning and target from the start, the duration and the paused time (in the timer's
    base); then the next moment the clock must act."""
    base = bases.of(timer)
    paused = timedelta(seconds=timer.paused_seconds)
    warning = timer.duration * timer.policy.warning_percent / 100
    timer.warn_at = base.after(timer.started_at, warning + paused)
    timer.target_at = base.after(timer.started_at, timer.duration + paused)
    timer.refresh_next_due()


# --- policies ------------------------------------------------------------------------------------


def policy_for(incident: Incident) -> SlaPolicy | None:
    """The policy of the first linked service that names one, else the default (one query)."""
    named = (
        Incident.services.through.objects.filter(
            incident=incident, service__sla_policy__isnull=False
        )
        .order_by("pk")
        .values("service__sla_policy")[:1]
    )
    return (
        SlaPolicy.objects.select_related("calendar")
        .filter(Q(pk=Subquery(named)) | Q(is_default=True))
        .order_by("is_default")
        .first()
    )


def _new_timer(incident, policy, target, *, start, bases: TimeBases) -> SlaTimer:
    timer = SlaTimer(incident=incident, kind=target.kind, started_at=start)
    _apply_target(timer, policy, target, bases)
    return timer


def _locked_timers(incident: Incident, *, kinds=None) -> list[SlaTimer]:
    timers = (
        SlaTimer.objects.select_for_update(of=("self",))
        .select_related("policy__calendar")
        .filter(incident=incident)
    )
    if kinds is not None:
        timers = timers.filter(kind__in=kinds)
    return list(timers)


# --- hooks called by incidents.services ----------------------------------------------------------


def timers_start(*, incident) -> None:
    """Create the incident's timers from its policy and priority."""
    policy = policy_for(incident)
    if policy is None:
        return
    bases = TimeBases()
    SlaTimer.objects.bulk_create(
        _new_timer(incident, policy, target, start=incident.started_at, bases=bases)
        for target in policy.targets.filter(priority=incident.priority)
    )


def timers_on_transition(*, incident, transition: str) -> None:
    """Stop, pause or resume timers after `transition` ran on `incident` (saved, locked)."""
    timers = _locked_timers(incident)
    revives = _revivable(incident, transition)
    now, bases = timezone.now(), TimeBases()
    for timer in timers:
        if timer.kind in MEETS.get(transition, ()):
            _stop(timer, incident, S.MET, now)
        elif timer.kind in CANCELS.get(transition, ()):
            _stop(timer, incident, S.CANCELLED, now)
        elif timer.kind in revives:
            _revive(timer)
        elif transition == Transition.HOLD:
            _pause(timer, incident, now)
        elif transition == Transition.RESUME:
            _resume(timer, now, bases)
        _start_update_cycle(timer, now, bases)
    if timers:
        SlaTimer.objects.bulk_update(timers, TIMER_FIELDS)


def timers_cancel(*, incident, kinds) -> None:
    """Cancel the incident's timers of `kinds` that still run (a breach stands)."""
    timers = _locked_timers(incident, kinds=kinds)
    now = timezone.now()
    for timer in timers:
        _stop(timer, incident, S.CANCELLED, now)
    if timers:
        SlaTimer.objects.bulk_update(timers, TIMER_FIELDS)


def _revivable(incident, transition: str) -> set[str]:
    """The kinds `transition` runs again, among those the incident's policy sets for its
    priority now (a priority change may have dropped one since it stopped)."""
    kinds = REVIVES.get(transition)
    if not kinds:
        return set()
    policy = policy_for(incident)
    if policy is None:
        return set()
    targets = policy.targets.filter(priority=incident.priority)
    return kinds & set(targets.values_list("kind", flat=True))


def timers_retarget(*, incident) -> None:
    """Re-compute targets for the incident's new priority, from the original start. Timers
    whose kind the new priority lacks are cancelled; a cancelled one it has again runs again,
    and kinds it adds are created, when still pending in the incident's status."""
    policy = policy_for(incident)
    targets = (
        {t.kind: t for t in policy.targets.filter(priority=incident.priority)} if policy else {}
    )
    timers = {timer.kind: timer for timer in _locked_timers(incident)}
    now, bases = timezone.now(), TimeBases()
    fresh = []
    for kind, timer in timers.items():
        if kind not in targets:
            _stop(timer, incident, S.CANCELLED, now)
        elif timer.state == S.CANCELLED and incident.status in PENDING_IN[kind]:
            _revive(timer)
            timer.started_at = _start_of(kind, incident, now)
            _apply_target(timer, policy, targets[kind], bases)
            fresh.append(timer)
        elif timer.stopped_at is None and timer.state != S.BREACHED:
            _apply_target(timer, policy, targets[kind], bases)
    if timers:
        SlaTimer.objects.bulk_update(timers.values(), TIMER_FIELDS)
    added = [
        _new_timer(incident, policy, target, start=_start_of(kind, incident, now), bases=bases)
        for kind, target in targets.items()
        if kind not in timers and incident.status in PENDING_IN[kind]
    ]
    SlaTimer.objects.bulk_create(added)
    fresh += added
    if fresh and incident.status == IncidentStatus.ON_HOLD:
        for timer in fresh:
            _pause(timer, incident, now)
        SlaTimer.objects.bulk_update(fresh, TIMER_FIELDS)


def _start_of(kind: str, incident, now: datetime) -> datetime:
    """Where a timer created (or run again) mid-incident starts: the incident's start, but an
    update cadence starts its first cycle now."""
    return now if kind == K.UPDATE else incident.started_at


def _apply_target(timer: SlaTimer, policy: SlaPolicy, target: SlaTarget, bases: TimeBases) -> None:
    timer.policy = policy
    timer.duration = target.duration
    timer.business_time = target.business_time
    _schedule(timer, bases)


def timers_on_public_update(*, incident) -> None:
    """A public update was given: the stakeholder-update cadence timer starts again."""
    timers = _locked_timers(incident, kinds=[K.UPDATE])
    now, bases = timezone.now(), TimeBases()
    for timer in timers:
        _start_update_cycle(timer, now, bases)
    if timers:
        SlaTimer.objects.bulk_update(timers, TIMER_FIELDS)


# --- what happens to one timer -------------------------------------------------------------------


def _stop(timer: SlaTimer, incident, state: str, now: datetime) -> None:
    """Met or cancelled now; a breach due before now is recorded first, and stands."""
    if timer.stopped_at is not None:
        return
    if timer.state == S.RUNNING and timer.target_at <= now:
        _fire(timer, incident, now)
    if timer.state != S.BREACHED:
        timer.state = state
    timer.stopped_at = now
    timer.refresh_next_due()


def _revive(timer: SlaTimer) -> None:
    """Back to running towards its target (a breach stands)."""
    if timer.state in (S.MET, S.CANCELLED):
        timer.state = S.RUNNING
    timer.stopped_at = timer.paused_at = None
    timer.refresh_next_due()


def _pause(timer: SlaTimer, incident, now: datetime) -> None:
    if timer.state != S.RUNNING or not timer.policy.pause_on_hold:
        return
    if timer.target_at <= now:
        _fire(timer, incident, now)
        return
    timer.state = S.PAUSED
    timer.paused_at = now
    timer.refresh_next_due()


def _resume(timer: SlaTimer, now: datetime, bases: TimeBases) -> None:
    if timer.state != S.PAUSED:
        return
    timer.paused_seconds += bases.of(timer).between(timer.paused_at, now).total_seconds()
    timer.paused_at = None
    timer.state = S.RUNNING
    _schedule(timer, bases)


def _start_update_cycle(timer: SlaTimer, now: datetime, bases: TimeBases) -> None:
    """The next update is due a cadence after this one. A missed update's breach stands (it
    counts in the SLA figures) but the cadence goes on: the target moves to the next cycle."""
    if timer.kind != K.UPDATE or timer.state not in (S.RUNNING, S.BREACHED):
        return
    timer.started_at = now
    timer.paused_seconds = 0
    _schedule(timer, bases)


# --- deadlines -----------------------------------------------------------------------------------


@transaction.atomic
def sla_fire_deadline(*, timer, now) -> str | None:
    """Record and notify the warning and breach of `timer` that are due at `now`.

    Called by the clock inside a transaction with the timer row locked (the clock locks the
    incident with it). The incident is locked here too, without waiting, for callers that did
    not: a service writing the incident holds it and then locks its timers, so waiting could
    deadlock. When it is busy nothing happens and the timer stays due for the next tick.
    NO KEY UPDATE, as the clock's, so timeline inserts for the incident do not make it busy.
    Returns the deadline kind fired last, or None.
    """
    if not _due(timer, now):
        _clear_stale_due(timer)
        return None
    incident = (
        Incident.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
        .select_related("assignee", "team")
        .filter(pk=timer.incident_id)
        .first()
    )
    if incident is None:
        return None
    fired = _fire(timer, incident, now)
    timer.save(update_fields=["state", "next_due_at", "warned_at", "breached_at"])
    return fired


def _clear_stale_due(timer: SlaTimer) -> None:
    """Nothing was due: make sure the clock does not find this timer again for nothing."""
    pending = timer.next_due_at
    timer.refresh_next_due()
    if timer.next_due_at != pending:
        timer.save(update_fields=["next_due_at"])


def _due(timer: SlaTimer, now: datetime) -> list[str]:
    if timer.state != S.RUNNING:
        return []
    due = []
    if timer.warned_at is None and timer.warn_at < timer.target_at and timer.warn_at <= now:
        due.append(DeadlineKind.WARNING)
    if timer.breached_at is None and timer.target_at <= now:
        due.append(DeadlineKind.BREACH)
    return due


def _fire(timer: SlaTimer, incident, now: datetime) -> str | None:
    """Record each due deadline (a timeline event each), notify the last one only: when the
    warning and the breach are due together, the breach says it all."""
    due = _due(timer, now)
    for kind in due:
        _record(timer, incident, kind)
    if due:
        _notify(timer, incident, due[-1])
    timer.refresh_next_due()
    return due[-1] if due else None


def _record(timer: SlaTimer, incident, kind: str) -> None:
    due_at = timer.warn_at if kind == DeadlineKind.WARNING else timer.target_at
    SlaDeadline.objects.create(timer=timer, kind=kind, due_at=due_at)
    if kind == DeadlineKind.WARNING:
        timer.warned_at = due_at
    else:
        timer.state = S.BREACHED
        timer.breached_at = due_at
    incident_record_event(
        incident=incident,
        type=EventType.SLA,
        summary=deadline_summary(timer, kind),
        data={
            "timer": timer.kind,
            "deadline": kind,
            "due_at": due_at.isoformat(),
            "target_at": timer.target_at.isoformat(),
        },
    )
    webhook_events.emit_sla_deadline(incident, timer=timer, deadline=kind, due_at=due_at)


def describe_duration(duration: timedelta, *, business: bool = False) -> str:
    """A target as people say it: 15 min, 4 h, 7 days, 8 business hours."""
    minutes = int(duration.total_seconds() // 60)
    if business:
        hours, rest = divmod(minutes, 60)
        text = f"{hours} business hour{'s' if hours != 1 else ''}"
        return f"{text} {rest} min" if rest else text
    days, rest = divmod(minutes, 24 * 60)
    hours, rest = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{rest} min"] if rest or not parts else []
    return " ".join(parts)


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def deadline_summary(timer: SlaTimer, kind: str) -> str:
    label = timer.get_kind_display()
    target = describe_duration(timer.duration, business=timer.business_time)
    if kind == DeadlineKind.WARNING:
        return f"{label} SLA warning: {target} target due at {_local(timer.target_at)}"
    return f"{label} SLA breached: {target} target passed at {_local(timer.target_at)}"


# --- configuration -------------------------------------------------------------------------------


@transaction.atomic
def sla_policy_save(*, policy: SlaPolicy, targets: list[dict] | None = None) -> SlaPolicy:
    """Save a policy; made the default, it takes the flag from the old default. `targets`,
    when given, replace its targets. Running timers keep the targets they started with until
    the incident's priority changes."""
    if policy.is_default:
        SlaPolicy.objects.filter(is_default=True).exclude(pk=policy.pk).update(is_default=False)
    policy.save()
    if targets is not None:
        policy.targets.all().delete()
        SlaTarget.objects.bulk_create(SlaTarget(policy=policy, **target) for target in targets)
    return policy


@transaction.atomic
def sla_calendar_save(
    *,
    calendar: BusinessCalendar,
    hours: list[dict] | None = None,
    holidays: list[dict] | None = None,
) -> BusinessCalendar:
    """Save a calendar; `hours` and `holidays`, when given, replace its own."""
    calendar.save()
    if hours is not None:
        calendar.hours.all().delete()
        WorkingHours.objects.bulk_create(WorkingHours(calendar=calendar, **h) for h in hours)
    if holidays is not None:
        calendar.holidays.all().delete()
        Holiday.objects.bulk_create(Holiday(calendar=calendar, **h) for h in holidays)
    return calendar


# --- notifications -------------------------------------------------------------------------------


def sla_recipients(incident) -> list:
    """Who hears about a deadline: the assignee, else the team's members, else the managers."""
    if incident.assignee_id is not None and incident.assignee.is_active:
        return [incident.assignee]
    if incident.team_id is not None:
        members = list(incident.team.members.filter(is_active=True))
        if members:
            return members
    return list(get_user_model().objects.filter(groups__name=Role.ITSM_MANAGER, is_active=True))


def _notify(timer: SlaTimer, incident, kind: str) -> None:
    # Imported when notifying, as incidents.oncall.escalation does: creating an incident needs
    # no chat clients.
    from itsm.notifications import notify, notify_chat

    assignee = incident.assignee.get_username() if incident.assignee_id else "none"
    message = notification_message(
        incident,
        headline=deadline_summary(timer, kind),
        body=(
            f"{incident.number} {incident.title}\n"
            f"Status: {incident.get_status_display()}. Assignee: {assignee}."
        ),
        dedupe_key=f"sla:{timer.pk}:{kind}",
        sla=timer.kind,
        deadline=kind,
    )
    notify(recipients=sla_recipients(incident), **message)
    webhooks = _chat_webhooks(incident)
    if webhooks:
        notify_chat(webhooks=webhooks, **message)


def _chat_webhooks(incident) -> list:
    """The chat channels of the incident's team."""
    if incident.team_id is None:
        return []
    return list(incident.team.chat_webhooks.filter(active=True))
