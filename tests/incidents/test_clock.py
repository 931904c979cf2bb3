"""The clock fires every deadline once, on time, and catches up after an outage.

The first tests swap the fire functions for recording fakes to pin down what the clock picks
and in which order; the rest run the real SLA code under time-machine.
"""

import contextlib
import functools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.utils import timezone
from django_q.models import OrmQ, Success

from incidents import clock
from incidents.choices import DeadlineKind, EventType, SlaKind, SlaTimerState
from incidents.models import (
    ClockClaim,
    EscalationLevel,
    EscalationPolicy,
    EscalationStep,
    SlaDeadline,
    SlaPolicy,
    SlaTimer,
)
from incidents.oncall import escalation
from incidents.sla import services as sla
from itsm import notifications
from itsm.health import CLOCK_HEARTBEAT_KEY
from itsm.models import Notification, OutboxItem
from tests.concurrency import eventually
from tests.factories import make_incident, make_task_result

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_timer(incident, *, warn_at, target_at, kind=SlaKind.RESOLVE) -> SlaTimer:
    """A running timer with explicit deadlines, replacing any the incident's policy made."""
    policy, _ = SlaPolicy.objects.get_or_create(slug="clock-tests", defaults={"name": "Clock"})
    SlaTimer.objects.filter(incident=incident, kind=kind).delete()
    timer = SlaTimer(
        incident=incident,
        kind=kind,
        policy=policy,
        duration=target_at - incident.started_at,
        started_at=incident.started_at,
        warn_at=warn_at,
        target_at=target_at,
    )
    timer.refresh_next_due()
    timer.save()
    return timer


def make_bare_incident(**kwargs):
    """An incident without the timers and escalation its policies gave it, so a test's own
    deadlines are the only ones due."""
    incident = make_incident(**kwargs)
    incident.sla_timers.all().delete()
    incident.escalation_steps.all().delete()
    return incident


@pytest.fixture
def bare_incident(responder, service):
    return make_bare_incident(actor=responder, services=[service.slug], assignee=responder)


# --- what the clock picks (recording fakes) ------------------------------------------------------


@pytest.fixture
def fired(monkeypatch):
    """Fake fire functions that record what they were given and do what the real ones promise:
    move the timer past its deadline, mark the step fired. The time stands still, so the
    worker's task (run inline) fires at the tick's moment."""
    calls = []

    def fire_deadline(*, timer, now):
        calls.append(("timer", timer.pk, now))
        timer.next_due_at = None
        timer.save(update_fields=["next_due_at"])
        return DeadlineKind.BREACH

    def fire_step(*, step, now):
        calls.append(("step", step.pk, now))
        step.fired_at = now
        step.save(update_fields=["fired_at"])
        return []

    monkeypatch.setattr(sla, "sla_fire_deadline", fire_deadline)
    monkeypatch.setattr(escalation, "escalation_fire_step", fire_step)
    monkeypatch.setattr(notifications, "notifications_retry_due", lambda *, now: 0)
    with time_machine.travel(timezone.now(), tick=False):
        yield calls


def test_tick_fires_due_timers_earliest_first_and_leaves_future_ones(fired, bare_incident):
    now = timezone.now()
    other = make_bare_incident(title="Second incident")
    later = make_timer(bare_incident, warn_at=now - timedelta(seconds=5), target_at=now)
    earlier = make_timer(other, warn_at=now - timedelta(seconds=9), target_at=now)
    future = make_timer(
        bare_incident,
        kind=SlaKind.ACKNOWLEDGE,
        warn_at=now + timedelta(milliseconds=1),
        target_at=now + timedelta(seconds=1),
    )

    result = clock.tick(now=now)

    assert fired == [("timer", earlier.pk, now), ("timer", later.pk, now)]
    assert result == {
        "sla": 2,
        "escalation": 0,
        "notifications": 0,
        "webhooks": 0,
        "outbox": 0,
        "declaration_watches": 0,
        "initial_notification_nags": 0,
        "stakeholder_update_nags": 0,
        "maintenance_starts": 0,
        "maintenance_ends": 0,
        "postmortem_reviews": 0,
    }
    future.refresh_from_db()
    assert future.next_due_at == now + timedelta(milliseconds=1)


def test_tick_works_through_every_batch(fired, db):
    now = timezone.now()
    timers = [
        make_timer(make_bare_incident(title=f"Incident {i}"), warn_at=now, target_at=now)
        for i in range(5)
    ]

    assert clock.tick(now=now, batch=2)["sla"] == 5
    assert sorted(pk for _, pk, _ in fired) == sorted(t.pk for t in timers)


def test_a_timer_that_fails_to_fire_does_not_hold_up_the_others(fired, bare_incident, monkeypatch):
    now = timezone.now()
    broken = make_timer(bare_incident, warn_at=now, target_at=now)
    healthy = make_timer(make_bare_incident(title="Healthy"), warn_at=now, target_at=now)
    record = sla.sla_fire_deadline

    def fire_or_fail(*, timer, now):
        if timer.pk == broken.pk:
            timer.next_due_at = None
            timer.save(update_fields=["next_due_at"])
            raise RuntimeError("bad data")
        return record(timer=timer, now=now)

    monkeypatch.setattr(sla, "sla_fire_deadline", fire_or_fail)

    assert clock.tick(now=now, batch=1)["sla"] == 1
    assert fired == [("timer", healthy.pk, now)]
    broken.refresh_from_db()
    assert broken.next_due_at == now, "the failed firing was rolled back; it is still due"


def test_a_timer_left_due_is_passed_over_instead_of_looping(fired, bare_incident, monkeypatch):
    now = timezone.now()
    stuck = make_timer(bare_incident, warn_at=now, target_at=now)
    calls = []
    monkeypatch.setattr(sla, "sla_fire_deadline", lambda *, timer, now: calls.append(timer.pk))

    assert clock.tick(now=now, batch=1)["sla"] == 0
    assert calls == [stuck.pk]


def test_a_failing_timer_is_retried_after_doubling_pauses(fired, bare_incident, monkeypatch):
    now = timezone.now()
    make_timer(bare_incident, warn_at=now, target_at=now)
    attempts = []

    def fail(*, timer, now):
        attempts.append(now)
        raise RuntimeError("bad data")

    monkeypatch.setattr(sla, "sla_fire_deadline", fail)

    for seconds in (0, 0.5, 1, 2, 3, 4, 5, 6, 7):
        clock.tick(now=now + timedelta(seconds=seconds))

    assert [(at - now).total_seconds() for at in attempts] == [0, 1, 3, 7]


# --- the worker's queue (django-q2's ORM broker, not run inline) --------------------------------


@pytest.fixture
def queue(monkeypatch):
    """Firing tasks go to the worker's queue (a table) instead of running inline; `work_off()`
    does what a worker would: take each off the queue and run it."""
    monkeypatch.setattr(clock, "async_task", functools.partial(clock.async_task, sync=False))

    def work_off() -> list:
        outcomes = []
        for package in OrmQ.objects.order_by("pk"):
            task = package.task
            package.delete()
            try:
                outcomes.append(clock.clock_fire(*task["args"]))
            except Exception as error:
                outcomes.append(error)
        return outcomes

    return work_off


def test_a_due_row_is_queued_once_while_its_task_waits_and_again_when_it_was_lost(
    queue, bare_incident
):
    now = timezone.now()
    timer = make_timer(bare_incident, warn_at=now, target_at=now)
    claim = timedelta(seconds=settings.CLOCK_CLAIM)

    assert clock.tick(now=now)["sla"] == 1
    assert [package.task["name"] for package in OrmQ.objects.all()] == [f"clock sla {timer.pk}"]
    assert clock.tick(now=now + claim / 2)["sla"] == 0, "claimed"
    assert clock.tick(now=now + claim)["sla"] == 0, "the claim ran out, its task still waits"
    assert OrmQ.objects.count() == 1
    assert ClockClaim.objects.get().until == now + 2 * claim

    OrmQ.objects.all().delete()  # lost with a worker that died
    assert clock.tick(now=now + 2 * claim)["sla"] == 1
    assert queue() == ["fired"]
    timer.refresh_from_db()
    assert (timer.breached_at, timer.state) == (now, SlaTimerState.BREACHED)
    assert not ClockClaim.objects.exists()
    assert clock.tick(now=now + 3 * claim)["sla"] == 0


def test_a_task_a_dead_worker_took_is_queued_again_when_the_claim_runs_out(queue, bare_incident):
    """Taken tasks stay in the queue, locked for Q_CLUSTER's `retry` (75 s), until done: the
    clock does not wait that long for a worker that died."""
    now = timezone.now()
    make_timer(bare_incident, warn_at=now, target_at=now)
    clock.tick(now=now)
    OrmQ.objects.update(lock=timezone.now() + timedelta(seconds=75))  # taken by a worker

    assert clock.tick(now=now + timedelta(seconds=settings.CLOCK_CLAIM))["sla"] == 1
    assert OrmQ.objects.count() == 2
    assert queue() == ["fired", "not due, or held by another"]


def test_a_row_failing_for_days_is_held_back_five_minutes_at_a_time(bare_incident, monkeypatch):
    """The pause stops doubling at its longest: 2 ** failures would overflow after 1,024."""
    now = timezone.now()
    timer = make_timer(bare_incident, warn_at=now, target_at=now)
    ClockClaim.objects.create(work="sla", row=timer.pk, until=now, failures=5_000)

    def fail(*, timer, now):
        raise RuntimeError("still broken")

    monkeypatch.setattr(sla, "sla_fire_deadline", fail)

    with time_machine.travel(now, tick=False), pytest.raises(RuntimeError, match="still broken"):
        clock.clock_fire("sla", timer.pk, now)
    claim = ClockClaim.objects.get()
    assert (claim.failures, claim.until) == (5_001, now + timedelta(minutes=5))


def test_two_tasks_for_one_row_fire_it_once(queue, bare_incident):
    """A task handed out twice (its worker died after firing, before acknowledging it): the
    second finds nothing due."""
    now = timezone.now()
    timer = make_timer(bare_incident, warn_at=now, target_at=now)
    clock.tick(now=now)
    OrmQ.objects.create(key=OrmQ.objects.get().key, payload=OrmQ.objects.get().payload)

    assert queue() == ["fired", "not due, or held by another"]
    assert list(SlaDeadline.objects.filter(timer=timer).values_list("kind", flat=True)) == [
        DeadlineKind.BREACH
    ]


def test_a_failed_firing_raises_for_the_worker_and_holds_the_row_back(
    queue, bare_incident, monkeypatch, caplog
):
    now = timezone.now()
    make_timer(bare_incident, warn_at=now, target_at=now)

    def fail(*, timer, now):
        raise RuntimeError("bad data")

    monkeypatch.setattr(sla, "sla_fire_deadline", fail)
    clock.tick(now=now)

    with time_machine.travel(now, tick=False):
        [error] = queue()
    assert isinstance(error, RuntimeError), "django-q2 lists the task among failed ones"
    claim = ClockClaim.objects.get()
    assert (claim.failures, claim.until) == (1, now + timedelta(seconds=1))
    assert "Could not fire sla" in caplog.text
    assert clock.tick(now=now + timedelta(seconds=0.5))["sla"] == 0
    assert clock.tick(now=now + timedelta(seconds=1))["sla"] == 1


def test_tick_fires_pending_escalation_steps_that_are_due(fired, bare_incident):
    now = timezone.now()
    levels = list(EscalationLevel.objects.order_by("policy", "position")[:4])

    def step(level, due_at, **kwargs):
        return EscalationStep.objects.create(
            incident=bare_incident, level=level, due_at=due_at, **kwargs
        )

    due = step(levels[0], now - timedelta(minutes=1))
    step(levels[1], now + timedelta(seconds=1))
    step(levels[2], now - timedelta(minutes=2), cancelled_at=now - timedelta(minutes=1))
    step(levels[3], now - timedelta(minutes=3), fired_at=now - timedelta(minutes=3))

    assert clock.tick(now=now)["escalation"] == 1
    assert fired == [("step", due.pk, now)]


def test_tick_retries_due_notifications_and_reports_a_heartbeat(fired, db, monkeypatch):
    now = timezone.now()
    asked = []
    monkeypatch.setattr(
        notifications, "notifications_retry_due", lambda *, now: asked.append(now) or 3
    )
    cache.delete(CLOCK_HEARTBEAT_KEY)

    assert clock.tick(now=now)["notifications"] == 3
    assert asked == [now]
    assert cache.get(CLOCK_HEARTBEAT_KEY) == now.isoformat()


def test_the_clock_sleeps_until_the_next_deadline_and_never_more_than_a_second(bare_incident):
    now = timezone.now()
    assert clock.seconds_until_next_due(after=now) == 1.0

    soon = now + timedelta(milliseconds=300)
    make_timer(bare_incident, warn_at=soon, target_at=now + timedelta(hours=1))
    assert 0.0 < clock.seconds_until_next_due(after=now) <= 0.3

    Notification.objects.create(
        channel="email", subject="retry", next_attempt_at=now + timedelta(milliseconds=100)
    )
    assert 0.0 <= clock.seconds_until_next_due(after=now) <= 0.1


def test_a_deadline_still_pending_at_the_tick_time_does_not_make_the_clock_spin(bare_incident):
    """A row due now but held by another clock is that clock's work; this one sleeps its
    second instead of asking again at once."""
    now = timezone.now()
    make_timer(bare_incident, warn_at=now - timedelta(seconds=1), target_at=now)

    assert clock.seconds_until_next_due(after=now) == 1.0


# --- the real SLA code under time-machine ------------------------------------------------------


def sla_events(incident):
    return list(incident.events.filter(type=EventType.SLA).order_by("at", "pk"))


def deadlines(timer) -> dict[str, object]:
    return dict(SlaDeadline.objects.filter(timer=timer).values_list("kind", "due_at"))


def breach_notifications(timer):
    return Notification.objects.filter(dedupe_key__startswith=f"sla:{timer.pk}:breach")


def test_a_timer_warns_and_breaches_at_its_moments_and_never_before(responder, service):
    with time_machine.travel(T0, tick=False) as traveller:
        incident = make_bare_incident(actor=responder, services=[service.slug], assignee=responder)
        warn_at, target_at = T0 + timedelta(seconds=75), T0 + timedelta(seconds=100)
        timer = make_timer(incident, warn_at=warn_at, target_at=target_at)

        traveller.move_to(warn_at - timedelta(milliseconds=1))
        clock.tick()
        assert deadlines(timer) == {}

        traveller.move_to(warn_at)
        clock.tick()
        timer.refresh_from_db()
        assert deadlines(timer) == {DeadlineKind.WARNING: warn_at}
        assert timer.warned_at == warn_at
        assert timer.state == SlaTimerState.RUNNING

        traveller.move_to(target_at - timedelta(milliseconds=1))
        clock.tick()
        timer.refresh_from_db()
        assert timer.breached_at is None

        traveller.move_to(target_at)
        clock.tick()

    timer.refresh_from_db()
    assert deadlines(timer) == {DeadlineKind.WARNING: warn_at, DeadlineKind.BREACH: target_at}
    assert timer.state == SlaTimerState.BREACHED
    assert timer.breached_at == target_at
    assert timer.next_due_at is None
    assert [e.data["deadline"] for e in sla_events(incident)] == ["warning", "breach"]
    assert breach_notifications(timer).filter(recipient=responder).exists()


def test_catch_up_records_the_original_target_and_notifies_once(responder, service):
    with time_machine.travel(T0, tick=False) as traveller:
        incident = make_bare_incident(actor=responder, services=[service.slug], assignee=responder)
        warn_at, target_at = T0 + timedelta(seconds=75), T0 + timedelta(seconds=100)
        timer = make_timer(incident, warn_at=warn_at, target_at=target_at)

        # No clock ran across either deadline; it comes back an hour later, then ticks again.
        traveller.move_to(T0 + timedelta(hours=1))
        clock.tick()
        traveller.shift(timedelta(seconds=1))
        clock.tick()

    timer.refresh_from_db()
    assert timer.state == SlaTimerState.BREACHED
    assert timer.breached_at == target_at
    assert deadlines(timer) == {DeadlineKind.WARNING: warn_at, DeadlineKind.BREACH: target_at}
    breaches = breach_notifications(timer)
    assert breaches.exists()
    assert breaches.count() == len(set(breaches.values_list("recipient", "channel")))
    assert not Notification.objects.filter(dedupe_key__startswith=f"sla:{timer.pk}:warning")
    assert [e.data["deadline"] for e in sla_events(incident)] == ["warning", "breach"]


def test_a_due_escalation_step_pages_once(responder, service):
    policy = EscalationPolicy.objects.create(slug="clock-tests", name="Clock tests")
    level = EscalationLevel.objects.create(
        policy=policy, position=1, name="Primary", delay=timedelta(0)
    )
    level.target_users.add(responder)
    with time_machine.travel(T0, tick=False) as traveller:
        incident = make_bare_incident(actor=responder, services=[service.slug])
        step = EscalationStep.objects.create(incident=incident, level=level, due_at=T0)

        traveller.shift(timedelta(seconds=1))
        clock.tick()
        traveller.shift(timedelta(seconds=1))
        clock.tick()

    step.refresh_from_db()
    assert step.fired_at == T0 + timedelta(seconds=1)
    assert step.paged == [responder.username]
    pages = incident.events.filter(type=EventType.ESCALATION)
    assert [e.data["paged"] for e in pages] == [[responder.username]]
    assert Notification.objects.filter(
        dedupe_key__startswith=f"escalation:{step.pk}:", recipient=responder
    ).exists()


# --- run_clock in real time ---------------------------------------------------------------------


@contextlib.contextmanager
def clock_running():
    """run_clock in a thread; yields its stop event and thread, and stops it on the way out."""
    stop = threading.Event()

    def run() -> None:
        try:
            clock.run_clock(stop=stop)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield stop, thread
    finally:
        stop.set()
        thread.join(timeout=5)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_clock_stops_within_a_second():
    with clock_running() as (stop, thread):
        time.sleep(0.3)

        asked = time.monotonic()
        stop.set()
        thread.join(timeout=2)

    assert not thread.is_alive()
    assert time.monotonic() - asked < 1.0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_clock_deletes_finished_work_when_it_starts():
    """Results and done items older than a week, and a claim nobody renewed for an hour (its
    row no longer due); the claim of a row held back after failing stays."""
    now = timezone.now()
    long_ago = now - timedelta(days=8)
    make_task_result("old", long_ago)
    OutboxItem.objects.create(kind="old", status="done", due_at=long_ago, done_at=long_ago)
    ClockClaim.objects.create(work="sla", row=1, until=now - timedelta(hours=2), failures=9)
    ClockClaim.objects.create(work="sla", row=2, until=now + timedelta(minutes=5), failures=9)

    with clock_running():
        pruned = eventually(
            lambda: not OutboxItem.objects.exists() and ClockClaim.objects.count() == 1
        )

    assert pruned
    assert not Success.objects.filter(id="old").exists()
    assert ClockClaim.objects.get().row == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_clock_queues_the_pruning_again_when_queueing_it_failed(monkeypatch):
    """A database blip while queueing the hourly pruning: a later tick queues it, not the next
    hour's."""
    long_ago = timezone.now() - timedelta(days=8)
    OutboxItem.objects.create(kind="old", status="done", due_at=long_ago, done_at=long_ago)
    queue, failed = clock.async_task, []

    def blip_once(func, *args, **kwargs):
        if func == clock.PRUNE_TASK and not failed:
            failed.append(func)
            raise DatabaseError("connection lost")
        return queue(func, *args, **kwargs)

    monkeypatch.setattr(clock, "async_task", blip_once)
    with clock_running():
        pruned = eventually(lambda: not OutboxItem.objects.exists())

    assert failed == [clock.PRUNE_TASK]
    assert pruned


def test_the_admin_lists_held_back_deadlines_to_superusers(client, super_admin, manager):
    ClockClaim.objects.create(work="sla", row=42, until=timezone.now(), failures=3)
    url = "/admin/incidents/clockclaim/"
    client.force_login(manager)
    assert client.get(url, secure=True).status_code == 403

    client.force_login(super_admin)
    page = client.get(url, secure=True).content.decode()
    assert '<td class="field-row">42</td>' in page and 'field-failures">3<' in page
