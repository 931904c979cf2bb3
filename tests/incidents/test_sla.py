"""SLA timers on the clock: started with the incident, stopped, paused and re-targeted by its
writes, and their warnings and breaches recorded at the exact moment by `sla_fire_deadline`."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import services
from incidents.choices import ChangeSource, DeadlineKind, EventType, SlaKind, SlaTimerState
from incidents.models import SlaDeadline, SlaTimer
from incidents.sla import services as sla
from incidents.sla.presets import load_preset
from itsm.models import Notification
from tests.factories import ServiceFactory, TeamFactory, make_incident

K, S = SlaKind, SlaTimerState
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


@pytest.fixture
def clock(db):
    """Time stands still at T0 until the test moves it (`clock.move_to(...)`)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def techflow(db):
    return load_preset("techflow", make_default=True)


def timers_of(incident) -> dict[str, SlaTimer]:
    return {timer.kind: timer for timer in SlaTimer.objects.filter(incident=incident)}


def fire(timer: SlaTimer, now: datetime):
    """What the clock does: read the timer afresh and fire what is due at `now`."""
    return sla.sla_fire_deadline(timer=SlaTimer.objects.get(pk=timer.pk), now=now)


def deadlines(timer: SlaTimer) -> dict[str, datetime]:
    return dict(SlaDeadline.objects.filter(timer=timer).values_list("kind", "due_at"))


def notified(timer: SlaTimer) -> set[tuple[str, str, str]]:
    """(deadline kind, username, channel) of every notification about this timer."""
    rows = Notification.objects.filter(dedupe_key__startswith=f"sla:{timer.pk}:")
    return {
        (row.context["deadline"], row.recipient.username, row.channel)
        for row in rows.select_related("recipient")
    }


def sla_events(incident) -> list[str]:
    return list(
        incident.events.filter(type=EventType.SLA).order_by("id").values_list("summary", flat=True)
    )


def override(incident, actor, priority):
    return services.incident_change_priority(
        incident=incident, actor=actor, source=ChangeSource.CLI, priority=priority, reason="exec"
    )


# --- starting ---------------------------------------------------------------------------------


def test_a_p1_gets_the_default_policys_timers_from_its_start(clock, responder):
    incident = make_incident(actor=responder, priority="P1")

    timers = timers_of(incident)

    assert {kind: (t.target_at, t.warn_at) for kind, t in timers.items()} == {
        K.ACKNOWLEDGE: (at(minutes=15), at(minutes=11, seconds=15)),
        K.MITIGATE: (at(hours=1), at(minutes=45)),
        K.RESOLVE: (at(hours=4), at(hours=3)),
    }
    assert {t.state for t in timers.values()} == {S.RUNNING}
    assert timers[K.ACKNOWLEDGE].next_due_at == at(minutes=11, seconds=15)


def test_timers_run_from_when_the_impact_started(clock, responder):
    incident = make_incident(actor=responder, priority="P1", started_at=at(minutes=-10))

    assert timers_of(incident)[K.ACKNOWLEDGE].target_at == at(minutes=5)


def test_the_first_service_naming_a_policy_decides(clock, responder, service, techflow):
    load_preset("response-workflow", make_default=True)
    plain = ServiceFactory(slug="plain")
    service.sla_policy = techflow
    service.save()

    measured = make_incident(actor=responder, priority="P1", services=["plain", service.slug])
    default = make_incident(actor=responder, priority="P1", services=[plain.slug])

    assert set(timers_of(measured)) == {K.ACKNOWLEDGE, K.RESPOND, K.RESOLVE, K.UPDATE}
    assert timers_of(measured)[K.ACKNOWLEDGE].target_at == at(minutes=5)
    assert set(timers_of(default)) == {K.ACKNOWLEDGE, K.MITIGATE, K.RESOLVE}


# --- firing deadlines ---------------------------------------------------------------------------


def test_the_warning_fires_at_warn_at_and_notifies_the_assignee(clock, responder):
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    ack = timers_of(incident)[K.ACKNOWLEDGE]

    clock.move_to(ack.warn_at - timedelta(seconds=1))
    assert fire(ack, ack.warn_at - timedelta(seconds=1)) is None
    clock.move_to(ack.warn_at)
    fired = fire(ack, ack.warn_at)

    ack.refresh_from_db()
    assert fired == DeadlineKind.WARNING
    assert deadlines(ack) == {DeadlineKind.WARNING: at(minutes=11, seconds=15)}
    assert ack.warned_at == ack.warn_at
    assert (ack.state, ack.next_due_at) == (S.RUNNING, ack.target_at)
    assert notified(ack) == {("warning", "rita", "email"), ("warning", "rita", "in_app")}
    assert sla_events(incident) == [
        "Acknowledge SLA warning: 15 min target due at 2026-03-02 10:15 UTC"
    ]


def test_the_breach_is_recorded_at_the_target_even_when_the_clock_runs_late(clock, responder):
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    ack = timers_of(incident)[K.ACKNOWLEDGE]
    fire(ack, ack.warn_at)

    late = ack.target_at + timedelta(hours=1)
    clock.move_to(late)
    fired = fire(ack, late)

    ack.refresh_from_db()
    assert fired == DeadlineKind.BREACH
    assert (ack.state, ack.breached_at, ack.next_due_at) == (S.BREACHED, at(minutes=15), None)
    breach = SlaDeadline.objects.get(timer=ack, kind=DeadlineKind.BREACH)
    assert (breach.due_at, breach.recorded_at) == (at(minutes=15), late)
    assert ("breach", "rita", "email") in notified(ack)
    assert sla_events(incident)[-1] == (
        "Acknowledge SLA breached: 15 min target passed at 2026-03-02 10:15 UTC"
    )


def test_a_warning_and_breach_due_together_are_both_recorded_but_only_the_breach_notifies(
    clock, responder
):
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    ack = timers_of(incident)[K.ACKNOWLEDGE]

    clock.move_to(at(minutes=40))
    fired = fire(ack, at(minutes=40))

    ack.refresh_from_db()
    assert fired == DeadlineKind.BREACH
    assert deadlines(ack) == {
        DeadlineKind.WARNING: at(minutes=11, seconds=15),
        DeadlineKind.BREACH: at(minutes=15),
    }
    assert (ack.warned_at, ack.breached_at) == (at(minutes=11, seconds=15), at(minutes=15))
    assert notified(ack) == {("breach", "rita", "email"), ("breach", "rita", "in_app")}
    assert len(sla_events(incident)) == 2


def test_firing_twice_records_and_notifies_once(clock, responder):
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    ack = timers_of(incident)[K.ACKNOWLEDGE]
    clock.move_to(at(minutes=20))

    first = fire(ack, at(minutes=20))
    second = fire(ack, at(minutes=20))

    assert (first, second) == (DeadlineKind.BREACH, None)
    assert SlaDeadline.objects.filter(timer=ack).count() == 2
    assert len(notified(ack)) == 2
    assert len(sla_events(incident)) == 2


def test_nobody_assigned_notifies_the_team_else_the_managers(clock, responder, manager, make_user):
    member = make_user("tim")
    team = TeamFactory(slug="dba")
    team.members.add(member)
    for_team = make_incident(actor=responder, priority="P1", team=team)
    for_managers = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=20))

    for incident in (for_team, for_managers):
        fire(timers_of(incident)[K.ACKNOWLEDGE], at(minutes=20))

    assert {who for _, who, _ in notified(timers_of(for_team)[K.ACKNOWLEDGE])} == {"tim"}
    assert {who for _, who, _ in notified(timers_of(for_managers)[K.ACKNOWLEDGE])} == {"mona"}


def test_a_met_timer_never_breaches(clock, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=5))
    drive(incident, responder, "acknowledge")
    ack = timers_of(incident)[K.ACKNOWLEDGE]
    assert (ack.state, ack.stopped_at, ack.next_due_at) == (S.MET, at(minutes=5), None)

    clock.move_to(at(hours=2))
    assert fire(ack, at(hours=2)) is None

    ack.refresh_from_db()
    assert (ack.state, ack.breached_at, deadlines(ack)) == (S.MET, None, {})
    assert notified(ack) == set()


def test_a_paused_timer_does_nothing(clock, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    drive(incident, responder, "acknowledge", "hold")
    mitigate = timers_of(incident)[K.MITIGATE]
    assert (mitigate.state, mitigate.paused_at, mitigate.next_due_at) == (S.PAUSED, T0, None)

    clock.move_to(at(hours=5))
    assert fire(mitigate, at(hours=5)) is None

    mitigate.refresh_from_db()
    assert (mitigate.state, deadlines(mitigate)) == (S.PAUSED, {})


# --- stopping -----------------------------------------------------------------------------------


def test_each_timer_stops_at_its_transition(clock, responder, drive, techflow):
    incident = make_incident(actor=responder, priority="P1")
    states = []
    for minutes, name in ((2, "acknowledge"), (4, "start"), (30, "resolve")):
        clock.move_to(at(minutes=minutes))
        drive(incident, responder, name)
        states.append({kind: t.state for kind, t in timers_of(incident).items()})

    running, met, cancelled = S.RUNNING, S.MET, S.CANCELLED
    assert states == [
        {K.ACKNOWLEDGE: met, K.RESPOND: running, K.RESOLVE: running, K.UPDATE: running},
        {K.ACKNOWLEDGE: met, K.RESPOND: met, K.RESOLVE: running, K.UPDATE: running},
        {K.ACKNOWLEDGE: met, K.RESPOND: met, K.RESOLVE: met, K.UPDATE: cancelled},
    ]
    assert timers_of(incident)[K.RESOLVE].stopped_at == at(minutes=30)


def test_resolving_without_mitigating_meets_the_mitigate_timer(clock, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=30))

    drive(incident, responder, "acknowledge", "start", "resolve")

    mitigate = timers_of(incident)[K.MITIGATE]
    assert (mitigate.state, mitigate.stopped_at) == (S.MET, at(minutes=30))


def test_cancel_cancels_every_open_timer(clock, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=3))
    drive(incident, responder, "acknowledge")
    drive(incident, responder, "cancel")

    assert {kind: t.state for kind, t in timers_of(incident).items()} == {
        K.ACKNOWLEDGE: S.MET,
        K.MITIGATE: S.CANCELLED,
        K.RESOLVE: S.CANCELLED,
    }
    assert {t.next_due_at for t in timers_of(incident).values()} == {None}


def test_a_transition_after_the_target_records_the_breach_at_the_target(clock, responder, drive):
    """The clock had not run (or was down): the record must not depend on it."""
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    clock.move_to(at(minutes=20))

    drive(incident, responder, "acknowledge")

    ack = timers_of(incident)[K.ACKNOWLEDGE]
    assert (ack.state, ack.breached_at, ack.stopped_at) == (
        S.BREACHED,
        at(minutes=15),
        at(minutes=20),
    )
    assert deadlines(ack)[DeadlineKind.BREACH] == at(minutes=15)
    assert ("breach", "rita", "email") in notified(ack)


def test_a_breached_timer_stays_breached_when_its_transition_comes(clock, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=16))
    fire(timers_of(incident)[K.ACKNOWLEDGE], at(minutes=16))
    clock.move_to(at(minutes=18))

    drive(incident, responder, "acknowledge")

    ack = timers_of(incident)[K.ACKNOWLEDGE]
    assert (ack.state, ack.breached_at, ack.stopped_at) == (
        S.BREACHED,
        at(minutes=15),
        at(minutes=18),
    )
    assert SlaDeadline.objects.filter(timer=ack).count() == 2


def test_reopen_runs_the_resolve_timer_again_towards_its_original_target(clock, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(hours=1))
    drive(incident, responder, "acknowledge", "start", "resolve")
    clock.move_to(at(hours=2))

    drive(incident, responder, "reopen")

    resolve = timers_of(incident)[K.RESOLVE]
    assert (resolve.state, resolve.stopped_at) == (S.RUNNING, None)
    assert (resolve.target_at, resolve.next_due_at) == (at(hours=4), at(hours=3))


def test_a_reopened_incident_past_its_target_breaches_at_the_target(clock, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(hours=1))
    drive(incident, responder, "acknowledge", "start", "resolve")
    clock.move_to(at(hours=5))
    drive(incident, responder, "reopen")

    resolve = timers_of(incident)[K.RESOLVE]
    assert resolve.next_due_at <= at(hours=5)
    assert fire(resolve, at(hours=5)) == DeadlineKind.BREACH
    resolve.refresh_from_db()
    assert resolve.breached_at == at(hours=4)


# --- pausing ------------------------------------------------------------------------------------


def test_hold_and_resume_push_targets_back_by_the_time_on_hold(clock, responder, drive):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=2))
    drive(incident, responder, "acknowledge")
    clock.move_to(at(minutes=10))
    drive(incident, responder, "hold")
    clock.move_to(at(minutes=40))

    drive(incident, responder, "resume")

    timers = timers_of(incident)
    assert timers[K.MITIGATE].state == S.RUNNING
    assert timers[K.MITIGATE].paused_seconds == 30 * 60
    assert (timers[K.MITIGATE].warn_at, timers[K.MITIGATE].target_at) == (
        at(minutes=75),
        at(minutes=90),
    )
    assert timers[K.RESOLVE].target_at == at(hours=4, minutes=30)
    assert timers[K.ACKNOWLEDGE].target_at == at(minutes=15)  # met before the hold


def test_a_policy_that_does_not_pause_keeps_counting_on_hold(clock, responder, drive):
    policy = load_preset("response-workflow", make_default=True)
    policy.pause_on_hold = False
    policy.save()
    incident = make_incident(actor=responder, priority="P1")
    drive(incident, responder, "acknowledge", "hold")

    assert timers_of(incident)[K.MITIGATE].state == S.RUNNING


# --- business time ------------------------------------------------------------------------------

FRIDAY_3PM_NEW_YORK = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)


@pytest.fixture
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def test_a_business_time_target_skips_the_weekend(new_york, techflow, responder):
    """Friday 15:00 + 8 business hours (Mon–Fri 09–17) is Monday 15:00, in New York local time,
    which moved to daylight saving time on the Sunday in between."""
    with time_machine.travel(FRIDAY_3PM_NEW_YORK, tick=False):
        incident = make_incident(actor=responder, priority="P3")

    resolve = timers_of(incident)[K.RESOLVE]
    assert resolve.business_time
    assert resolve.target_at == datetime(2026, 3, 9, 19, 0, tzinfo=UTC)  # 15:00 EDT
    assert resolve.warn_at == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # 6 of 8 hours: 13:00 EDT
    assert timers_of(incident)[K.ACKNOWLEDGE].target_at == FRIDAY_3PM_NEW_YORK + timedelta(hours=1)


def test_a_pause_in_business_time_counts_only_the_working_hours_on_hold(
    new_york, techflow, responder, drive
):
    with time_machine.travel(FRIDAY_3PM_NEW_YORK, tick=False) as traveller:
        incident = make_incident(actor=responder, priority="P3")
        drive(incident, responder, "acknowledge")
        traveller.move_to(FRIDAY_3PM_NEW_YORK + timedelta(hours=1))  # Friday 16:00
        drive(incident, responder, "hold")
        traveller.move_to(datetime(2026, 3, 9, 14, 0, tzinfo=UTC))  # Monday 10:00 EDT
        drive(incident, responder, "resume")

    resolve = timers_of(incident)[K.RESOLVE]
    assert resolve.paused_seconds == 2 * 3600  # Friday 16–17 and Monday 09–10
    assert resolve.target_at == datetime(2026, 3, 9, 21, 0, tzinfo=UTC)  # Monday 17:00 EDT


# --- priority changes ---------------------------------------------------------------------------


def test_a_priority_change_retargets_from_the_original_start(clock, responder, manager):
    incident = make_incident(actor=responder, priority="P3")
    clock.move_to(at(minutes=30))

    override(incident, manager, "P1")

    timers = timers_of(incident)
    assert {kind: t.target_at for kind, t in timers.items()} == {
        K.ACKNOWLEDGE: at(minutes=15),
        K.MITIGATE: at(hours=1),
        K.RESOLVE: at(hours=4),
    }
    ack = timers[K.ACKNOWLEDGE]
    assert ack.next_due_at <= at(minutes=30)  # overdue already: the clock acts at once
    assert fire(ack, at(minutes=30)) == DeadlineKind.BREACH
    ack.refresh_from_db()
    assert ack.breached_at == at(minutes=15)


def test_a_priority_change_keeps_the_time_on_hold(clock, responder, manager, drive):
    incident = make_incident(actor=responder, priority="P3")
    drive(incident, responder, "acknowledge", "hold")
    clock.move_to(at(hours=1))
    drive(incident, responder, "resume")
    override(incident, manager, "P1")

    assert timers_of(incident)[K.RESOLVE].target_at == at(hours=5)


def test_a_priority_change_adds_and_cancels_timer_kinds(clock, responder, manager, techflow):
    incident = make_incident(actor=responder, priority="P4")
    assert K.UPDATE not in timers_of(incident)
    clock.move_to(at(hours=1))

    override(incident, manager, "P3")
    update = timers_of(incident)[K.UPDATE]
    assert (update.state, update.started_at, update.target_at) == (
        S.RUNNING,
        at(hours=1),
        at(hours=25),
    )

    override(incident, manager, "P4")
    assert timers_of(incident)[K.UPDATE].state == S.CANCELLED


def test_raising_the_priority_again_runs_a_dropped_timer_again(clock, responder, manager, techflow):
    incident = make_incident(actor=responder, priority="P3")
    override(incident, manager, "P4")
    clock.move_to(at(hours=2))

    override(incident, manager, "P3")

    update = timers_of(incident)[K.UPDATE]
    assert (update.state, update.stopped_at) == (S.RUNNING, None)
    assert (update.started_at, update.target_at) == (at(hours=2), at(hours=26))


def test_reopen_does_not_revive_a_timer_the_priority_dropped(
    clock, responder, manager, drive, techflow
):
    incident = make_incident(actor=responder, priority="P3")
    override(incident, manager, "P4")
    drive(incident, responder, "acknowledge", "start", "resolve", "reopen")

    timers = timers_of(incident)
    assert (timers[K.UPDATE].state, timers[K.RESOLVE].state) == (S.CANCELLED, S.RUNNING)


def test_a_priority_change_leaves_finished_timers_alone(clock, responder, manager, drive):
    incident = make_incident(actor=responder, priority="P3")
    clock.move_to(at(minutes=30))
    drive(incident, responder, "acknowledge")

    override(incident, manager, "P1")

    ack = timers_of(incident)[K.ACKNOWLEDGE]
    assert (ack.state, ack.target_at) == (S.MET, at(hours=4))


# --- the stakeholder-update cadence ---------------------------------------------------------------


def test_a_public_update_starts_the_next_update_cycle(clock, responder, techflow):
    incident = make_incident(actor=responder, priority="P1")
    assert timers_of(incident)[K.UPDATE].target_at == at(minutes=30)
    clock.move_to(at(minutes=10))
    services.incident_add_note(
        incident=incident, actor=responder, source=ChangeSource.CLI, text="internal"
    )
    assert timers_of(incident)[K.UPDATE].target_at == at(minutes=30)

    clock.move_to(at(minutes=20))
    services.incident_add_note(
        incident=incident, actor=responder, source=ChangeSource.CLI, text="on it", public=True
    )

    update = timers_of(incident)[K.UPDATE]
    assert (update.started_at, update.warn_at, update.target_at) == (
        at(minutes=20),
        at(minutes=42, seconds=30),
        at(minutes=50),
    )


def test_a_transition_is_a_public_update_too(clock, responder, drive, techflow):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=4))

    drive(incident, responder, "acknowledge")

    assert timers_of(incident)[K.UPDATE].target_at == at(minutes=34)


def test_a_breached_update_timer_stays_breached(clock, responder, techflow):
    incident = make_incident(actor=responder, priority="P1")
    clock.move_to(at(minutes=31))
    fire(timers_of(incident)[K.UPDATE], at(minutes=31))

    services.incident_add_note(
        incident=incident, actor=responder, source=ChangeSource.CLI, text="late", public=True
    )

    update = timers_of(incident)[K.UPDATE]
    assert (update.state, update.breached_at, update.next_due_at) == (
        S.BREACHED,
        at(minutes=30),
        None,
    )
