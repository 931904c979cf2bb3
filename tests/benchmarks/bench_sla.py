"""SLA clock benchmark (`make bench`): 100,000 open incidents with running timers on PostgreSQL,
1,000 of them breaching within the next minute, the real worker process running
(`manage.py qworker`: its clock queues each breach the moment it falls due, a django-q2 task
fires it).

Prints the breaches recorded, how late they were (from the target to the record being written
by the task, and to a reader first seeing it), duplicates found, and the worker's CPU per
minute.

    .venv/bin/python -m tests.benchmarks.bench_sla [--database itsm_bench_sla] [--wait 75]

The database (default `itsm_bench_sla`, on the server DATABASE_URL names) is the benchmark's
own: each run empties its incidents and notifications and seeds them again.
"""

import argparse
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.benchmarks._common import (
    PROJECT_DIR,
    CpuSample,
    markdown_table,
    parse_with_hog,
    print_machine_load,
    reserve_incident_numbers,
    running_command,
    setup_django_in_own_database,
    stop_on_sigterm,
)

DEFAULT_DATABASE = "itsm_bench_sla"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
INCIDENTS = 100_000
DUE_SOON = 1_000
DUE_WITHIN = timedelta(seconds=60)
# The rest fall due (warning first) between these, after the measured window.
OTHERS_FROM, OTHERS_TO = timedelta(minutes=15), timedelta(hours=8)
BATCH_SIZE = 5_000
POLL_SECONDS = 0.1
READY_TIMEOUT_SECONDS = 60
IDLE_SECONDS = 10
USERNAME = "bench-sla-responder"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="database name to use")
    parser.add_argument(
        "--wait", type=float, default=75, help="seconds to watch after arming the deadlines"
    )
    return parse_with_hog(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    env = setup_django_in_own_database(args.database, redis=DEFAULT_REDIS_URL)
    prepare_database()
    worker_env = {**env, "LOG_LEVEL": "INFO"}
    with running("worker", ["manage.py", "qworker"], worker_env) as worker:
        wait_until_ready()
        print_machine_load()
        idle = cpu_use(worker.pid, lambda: time.sleep(IDLE_SECONDS))
        due = arm_deadlines()
        print(f"Armed {len(due):,} breaches over the next {DUE_WITHIN.seconds} s; watching…")
        seen: dict[int, datetime] = {}
        busy = cpu_use(worker.pid, lambda: watch(due, seen, seconds=args.wait))
    print()
    print(report(due, seen, idle=idle, busy=busy, window=args.wait))
    print(f"\nThe worker's log: {log_path('worker')}")
    return 0 if duplicates() == (0, 0) and len(seen) == DUE_SOON else 1


# --- processes ----------------------------------------------------------------------------------


def log_path(name: str) -> Path:
    return PROJECT_DIR / "var" / f"bench-sla-{name}.log"


def running(name: str, args: list[str], env: dict[str, str]):
    return running_command([sys.executable, *args], env=env, log=log_path(name))


def wait_until_ready() -> None:
    """Until the worker's clock heartbeat and its cluster's status are in the cache."""
    from django.core.cache import cache
    from django_q.brokers import get_broker
    from django_q.status import Stat

    from itsm.health import CLOCK_HEARTBEAT_KEY

    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not (cache.get(CLOCK_HEARTBEAT_KEY) and Stat.get_all(broker=get_broker())):
        if time.monotonic() > deadline:
            raise SystemExit(f"The worker did not start; see {log_path('worker')}.")
        time.sleep(0.2)


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds per minute of wall-clock time while something ran."""

    worker: float
    database: float
    other: float


def cpu_use(pid: int, during) -> CpuUse:
    """Where the CPU went while `during()` ran: the worker process (its own process group: the
    clock and the cluster), the PostgreSQL backends serving this database, and everything else
    on the machine."""
    before, started = CpuSample.take(pid), time.monotonic()
    during()
    after, minutes = CpuSample.take(pid), (time.monotonic() - started) / 60
    worker, database = after.server - before.server, after.database - before.database
    other = after.machine - before.machine - worker - database
    return CpuUse(worker=worker / minutes, database=database / minutes, other=other / minutes)


# --- data ---------------------------------------------------------------------------------------


def prepare_database() -> None:
    """Migrate, empty the previous run's data, and seed open incidents with running timers."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    empty_previous_run()
    seed()


def empty_previous_run() -> None:
    """Its incidents (with their timers, deadlines and timelines), notifications and queued
    tasks, and the clock heartbeat, which would make a clock look started before it is."""
    from django.core.cache import cache
    from django.db import connection
    from django_q.models import OrmQ, Task

    from incidents.models import Incident
    from itsm.health import CLOCK_HEARTBEAT_KEY
    from itsm.models import Notification

    tables = [m._meta.db_table for m in (Incident, Notification, OrmQ, Task)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    cache.delete(CLOCK_HEARTBEAT_KEY)


def seed() -> None:
    print(f"Seeding {INCIDENTS:,} open incidents with running SLA timers…", flush=True)
    started = time.monotonic()
    user, team, policy = seed_people()
    rng = random.Random(3)
    now = datetime.now(UTC)
    for done in range(0, INCIDENTS, BATCH_SIZE):
        seed_batch(min(BATCH_SIZE, INCIDENTS - done), now, rng, user=user, team=team, policy=policy)
    vacuum_analyze()
    print(f"Seeded in {time.monotonic() - started:.0f} s.")


def seed_people():
    """The responder every incident is assigned to (who hears of each breach), the team, and a
    policy for the timers to name."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from incidents.models import SlaPolicy, Team
    from itsm.roles import Role

    user, _ = get_user_model().objects.get_or_create(
        username=USERNAME, defaults={"email": f"{USERNAME}@example.org"}
    )
    user.groups.add(Group.objects.get(name=Role.RESPONDER))
    team, _ = Team.objects.get_or_create(slug="bench-sla", defaults={"name": "Benchmark SLA"})
    policy, _ = SlaPolicy.objects.get_or_create(
        slug="bench-sla", defaults={"name": "Benchmark SLA"}
    )
    return user, team, policy


def seed_batch(size: int, now: datetime, rng: random.Random, *, user, team, policy) -> None:
    from django.db import transaction

    from incidents.models import Incident, SlaTimer

    with transaction.atomic():
        incidents = Incident.objects.bulk_create(
            open_incident(number, now - timedelta(minutes=rng.randrange(30)), rng, user, team)
            for number in reserve_incident_numbers(size)
        )
        SlaTimer.objects.bulk_create(
            running_timer(incident, now, rng.uniform(0, 1), policy) for incident in incidents
        )


def open_incident(number: str, created: datetime, rng: random.Random, user, team):
    from incidents.models import Incident

    status = rng.choice(("new", "acknowledged", "investigating"))
    return Incident(
        number=number,
        title=f"Benchmark incident {number}",
        priority=rng.choice(("P1", "P2", "P3", "P4")),
        status=status,
        team=team,
        reporter=user,
        assignee=user,
        source="api",
        detected_at=created,
        started_at=created,
        created_at=created,
        acknowledged_at=created + timedelta(minutes=2) if status != "new" else None,
    )


def running_timer(incident, now: datetime, share: float, policy):
    """A resolve timer started now, due between OTHERS_FROM and OTHERS_TO from now, warning at
    75 % of it."""
    from incidents.models import SlaTimer

    duration = OTHERS_FROM + (OTHERS_TO - OTHERS_FROM) * share
    timer = SlaTimer(
        incident=incident,
        kind="resolve",
        policy=policy,
        duration=duration,
        started_at=now,
        warn_at=now + duration * 0.75,
        target_at=now + duration,
    )
    timer.refresh_next_due()
    return timer


def vacuum_analyze() -> None:
    """Fresh planner statistics, as autovacuum would give a settled database."""
    from django.db import connection

    from incidents.models import Incident, SlaTimer

    with connection.cursor() as cursor:
        for model in (Incident, SlaTimer):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def arm_deadlines() -> dict[int, datetime]:
    """Bring DUE_SOON timers' targets into the next minute (their warnings already given, as
    they would have been), in one transaction; return each one's target by timer id."""
    from django.db import transaction

    from incidents.models import SlaDeadline, SlaTimer

    rng = random.Random(4)
    now = datetime.now(UTC)
    timers = list(SlaTimer.objects.order_by("?")[:DUE_SOON])
    for timer in timers:
        timer.target_at = now + timedelta(seconds=rng.uniform(2, DUE_WITHIN.total_seconds()))
        timer.duration = timer.target_at - timer.started_at
        timer.warn_at = timer.warned_at = timer.started_at + timer.duration * 0.75
        timer.refresh_next_due()
    with transaction.atomic():
        SlaTimer.objects.bulk_update(
            timers, ["target_at", "duration", "warn_at", "warned_at", "next_due_at"]
        )
        SlaDeadline.objects.bulk_create(
            SlaDeadline(timer=t, kind="warning", due_at=t.warn_at, recorded_at=t.warn_at)
            for t in timers
        )
    return {timer.pk: timer.target_at for timer in timers}


# --- measuring ----------------------------------------------------------------------------------


def watch(due: dict[int, datetime], seen: dict[int, datetime], *, seconds: float) -> None:
    """Poll for the breach records of `due` timers, noting when each first became visible to a
    reader. (By timer, not by id: two clocks commit their ids out of order.)"""
    from incidents.models import SlaDeadline

    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        unseen = [timer for timer in due if timer not in seen]
        found = SlaDeadline.objects.filter(kind="breach", timer_id__in=unseen)
        now = datetime.now(UTC)
        for timer_id in found.values_list("timer_id", flat=True):
            seen[timer_id] = now
        time.sleep(POLL_SECONDS)


def duplicates() -> tuple[int, int]:
    """(deadlines recorded more than once per timer and kind, incidents with more than one
    breach event on their timeline)."""
    from django.db.models import Count

    from incidents.models import IncidentEvent, SlaDeadline

    deadlines = SlaDeadline.objects.values("timer", "kind").annotate(n=Count("id")).filter(n__gt=1)
    events = (
        IncidentEvent.objects.filter(type="sla", data__deadline="breach")
        .values("incident")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    return deadlines.count(), events.count()


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """Nearest-rank p50 and p99, and the maximum."""
    ordered = sorted(values)
    if not ordered:
        return (0.0, 0.0, 0.0)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    return rank(50), rank(99), ordered[-1]


def report(
    due: dict[int, datetime],
    seen: dict[int, datetime],
    *,
    idle: CpuUse,
    busy: CpuUse,
    window: float,
) -> str:
    from incidents.models import SlaDeadline
    from itsm.models import Notification

    breaches = list(
        SlaDeadline.objects.filter(kind="breach").values_list("timer_id", "due_at", "recorded_at")
    )
    written = [(recorded - due_at).total_seconds() for _, due_at, recorded in breaches]
    visible = [(seen[t] - due[t]).total_seconds() for t in seen if t in due]
    wrong_target = sum(1 for timer, due_at, _ in breaches if due.get(timer) != due_at)
    notified = Notification.objects.filter(dedupe_key__contains=":breach:")
    deadline_dupes, event_dupes = duplicates()
    rows = [
        ["breaches recorded", f"{len(breaches):,}", f"{DUE_SOON:,}"],
        ["… lost (armed, never recorded)", f"{DUE_SOON - len({t for t, _, _ in breaches}):,}", "0"],
        ["… recorded with a due time other than the target", f"{wrong_target:,}", "0"],
        *lateness_rows("lateness, target → record written (recorded_at)", written),
        *lateness_rows(
            f"lateness, target → seen by a reader (polled every {POLL_SECONDS} s)", visible
        ),
        ["duplicate deadline records (timer + kind > 1)", f"{deadline_dupes:,}", "0"],
        ["timers with > 1 breach timeline event", f"{event_dupes:,}", "0"],
        ["breach notifications created (email + in-app)", f"{notified.count():,}", "2,000"],
        [
            "… sent by the worker by the end of the window",
            f"{notified.filter(status='sent').count():,}",
            "—",
        ],
        *cpu_rows("idle, 100,000 timers running", idle),
        *cpu_rows(f"the {window:g} s with the breaches", busy),
    ]
    return markdown_table(["measure", "value", "expected"], rows)


def cpu_rows(label: str, use: CpuUse) -> list[list[str]]:
    return [
        [f"worker CPU s/min (clock and cluster), {label}", f"{use.worker:.2f}", "—"],
        [f"PostgreSQL CPU s/min (this database), {label}", f"{use.database:.2f}", "—"],
        [f"other processes' CPU s/min, {label}", f"{use.other:.2f}", "—"],
    ]


def lateness_rows(label: str, seconds: list[float]) -> list[list[str]]:
    p50, p99, worst = percentiles(seconds)
    return [
        [f"{label} p50 s", f"{p50:.3f}", "—"],
        [f"{label} p99 s", f"{p99:.3f}", "≤ 1 (quiet)"],
        [f"{label} max s", f"{worst:.3f}", "—"],
    ]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("Interrupted; the worker has been stopped.")
