"""The clock on PostgreSQL: several clocks at once act once per deadline, and the worker
process (`manage.py qworker`, production settings: the ORM broker, no inline tasks) catches up
on start through its django-q2 tasks and stops promptly."""

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.db import connections
from django.db.models import Count
from django.utils import timezone
from django_q.models import Success

from incidents import clock
from incidents.choices import DeadlineKind, EventType, SlaTimerState
from incidents.models import ClockClaim, IncidentEvent, SlaDeadline, SlaTimer
from incidents.sla import services as sla_services
from itsm.models import Notification
from tests.browser import _test_database_url
from tests.clocks import two_clocks_at_once
from tests.incidents.test_clock import clock_running, make_bare_incident, make_timer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TIMERS = 50


def overdue_timers(count: int, assignee) -> list[SlaTimer]:
    now = timezone.now()
    return [
        make_timer(
            make_bare_incident(title=f"Overdue {i}", assignee=assignee),
            warn_at=now - timedelta(minutes=2),
            target_at=now - timedelta(minutes=1) + timedelta(milliseconds=i),
        )
        for i in range(count)
    ]


def test_two_clocks_at_once_record_and_notify_each_deadline_once(responder, caplog):
    timers = overdue_timers(TIMERS, responder)
    with caplog.at_level(logging.INFO, logger="incidents.clock"):
        fired, errors = two_clocks_at_once("sla", ticks=20, batch=5)

    assert errors == []
    assert sum(fired) == TIMERS, "each timer fired by exactly one of the clocks"
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    per_deadline = SlaDeadline.objects.values("timer", "kind").annotate(n=Count("id"))
    assert {(row["kind"], row["n"]) for row in per_deadline} == {
        (DeadlineKind.WARNING, 1),
        (DeadlineKind.BREACH, 1),
    }
    assert per_deadline.count() == 2 * TIMERS
    assert set(SlaTimer.objects.values_list("state", flat=True)) == {SlaTimerState.BREACHED}
    breach_events = (
        IncidentEvent.objects.filter(type=EventType.SLA, data__deadline=DeadlineKind.BREACH)
        .values("incident")
        .annotate(n=Count("id"))
    )
    assert sorted(row["n"] for row in breach_events) == [1] * TIMERS
    for timer in timers:
        sent = Notification.objects.filter(dedupe_key__startswith=f"sla:{timer.pk}:breach")
        assert sent.filter(recipient=responder).exists()
        assert sent.count() == len(set(sent.values_list("recipient", "channel")))


def test_two_tasks_firing_one_deadline_at_the_same_moment_record_it_once(responder, monkeypatch):
    """Two workers run a task for the same timer at once (a task handed out twice). The
    first holds the row while it fires, slowly here; the second skips the locked row and
    does nothing, so the breach is recorded and notified once."""
    [timer] = overdue_timers(1, responder)
    fire_deadline = sla_services.sla_fire_deadline

    def slow_fire(**kwargs):
        fire_deadline(**kwargs)
        time.sleep(0.5)  # the lock is held until the task's transaction commits

    monkeypatch.setattr(sla_services, "sla_fire_deadline", slow_fire)
    start = threading.Barrier(2)

    def task(_):
        start.wait()
        try:
            return clock.clock_fire("sla", timer.pk, timezone.now())
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as workers:
        outcomes = sorted(workers.map(task, range(2)))

    assert outcomes == ["fired", "not due, or held by another"]
    kinds = SlaDeadline.objects.filter(timer=timer).values_list("kind", flat=True)
    assert sorted(kinds) == sorted([DeadlineKind.BREACH, DeadlineKind.WARNING])
    sent = Notification.objects.filter(dedupe_key__startswith=f"sla:{timer.pk}:breach")
    channels = list(sent.filter(recipient=responder).values_list("channel", flat=True))
    assert channels and len(channels) == len(set(channels)), "one of each, by in-app and email"
    assert not ClockClaim.objects.exists()


def test_run_clock_fires_a_deadline_written_while_it_sleeps(responder, service):
    incident = make_bare_incident(actor=responder, services=[service.slug], assignee=responder)
    with clock_running():
        time.sleep(0.5)
        target_at = timezone.now() + timedelta(seconds=2)
        timer = make_timer(incident, warn_at=target_at, target_at=target_at)
        seen_at = None
        while seen_at is None and timezone.now() < target_at + timedelta(seconds=3):
            if SlaDeadline.objects.filter(timer=timer, kind=DeadlineKind.BREACH).exists():
                seen_at = timezone.now()
            time.sleep(0.05)

    assert seen_at is not None, "the breach was never recorded"
    assert (seen_at - target_at).total_seconds() <= 1.5
    timer.refresh_from_db()
    assert timer.breached_at == target_at


def test_the_worker_process_fires_through_its_tasks_catches_up_and_stops_promptly(responder):
    """The worker's clock queues the overdue timer; a django-q2 task fires it (a successful
    task in the admin's Django Q pages). SIGTERM stops the clock within a second and the whole
    process within the worker's grace; the clock's last log line says when it stopped."""
    (timer,) = overdue_timers(1, responder)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qworker", "--clock-loops", "2"],
        cwd=settings.BASE_DIR,
        env=os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "itsm.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "DATABASE_URL": _test_database_url(),
            "LOG_LEVEL": "INFO",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        # Fired, and the task's result saved (by the cluster's monitor, after the firing).
        while not (
            SlaDeadline.objects.filter(timer=timer, kind=DeadlineKind.BREACH).exists()
            and Success.objects.filter(func=clock.FIRE_TASK).exists()
        ):
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the worker did not catch up within 60 s"
            time.sleep(0.1)
        asked = datetime.now()
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=settings.WORKER_STOP_GRACE + 10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, log
    assert "Stopped the tasks still running" not in log, "stopped within the grace"
    assert log.count("Clock stopped") == 2, "both loops stopped"
    assert (last_logged_at(log, "Clock stopped") - asked).total_seconds() < 1.0
    timer.refresh_from_db()
    assert timer.breached_at == timer.target_at
    assert f"SLA breach: {timer.incident.number}" in log
    [task] = Success.objects.filter(func=clock.FIRE_TASK)
    assert task.name == f"clock sla {timer.pk}"
    assert not ClockClaim.objects.exists(), "the fired row's claim is dropped"


def last_logged_at(log: str, message: str) -> datetime:
    """When the last line ending in `message` was logged (the settings' format starts with the
    local time, to the millisecond)."""
    line = [line for line in log.splitlines() if line.endswith(message)][-1]
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
