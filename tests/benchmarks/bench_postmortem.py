"""Post-incident review benchmark (`make bench`): a major incident with 2,000 timeline events
and a 50 KB war-room scratchpad is resolved through the services, with a real django-q worker
cluster (`manage.py qcluster`) running, on PostgreSQL.

Prints, over several runs (median and max): the time from the resolution (the incident's
`resolved_at`, written in the resolving transaction) to the drafted review being readable in
the database, polled every 10 ms (the job's pickup included; the aim is under 5 s), the
worker's pickup and run of the job (from django-q's task record), and the draft's
generation alone (`postmortems.drafting.generate`, in this process) with the queries it took,
also for an incident of 20 events, to show the queries do not grow with the events.

    .venv/bin/python -m tests.benchmarks.bench_postmortem [--runs 5] [--events 2000]

The database (default `itsm_bench_postmortem`, on the server DATABASE_URL names) is the
benchmark's own: every run adds one incident.
"""

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.benchmarks._common import (
    PROJECT_DIR,
    markdown_table,
    parse_with_hog,
    print_machine_load,
    running_command,
    setup_django_in_own_database,
    stop_on_sigterm,
    wait_for_worker,
)

DEFAULT_DATABASE = "itsm_bench_postmortem"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
STAFF = tuple(f"bench-pir-{i}" for i in range(1, 6))
MANAGER = "bench-pir-manager"
SCRATCHPAD_BYTES = 50_000
SMALL_EVENTS = 20
POLL_SECONDS = 0.01
DRAFT_TIMEOUT_SECONDS = 60
GENERATE_REPEATS = 3
AIM_SECONDS = 5.0
WORKER_LOG = PROJECT_DIR / "var" / "bench-postmortem-worker.log"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="database name to use")
    parser.add_argument("--runs", type=int, default=5, help="incidents resolved and drafted")
    parser.add_argument("--events", type=int, default=2_000, help="timeline events each")
    return parse_with_hog(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    env = setup_django_in_own_database(args.database, redis=DEFAULT_REDIS_URL)
    people = prepare()
    with running_command([sys.executable, "manage.py", "qcluster"], env=env, log=WORKER_LOG):
        wait_for_worker(WORKER_LOG)
        print_machine_load()
        runs = [measure_run(people, index, events=args.events) for index in range(args.runs)]
    small = generation(seed_incident(people, events=SMALL_EVENTS, index=-1))
    print()
    print(report(runs, small, events=args.events))
    print(f"\nThe worker's log: {WORKER_LOG}")
    slow = statistics.median(run.readable for run in runs) >= AIM_SECONDS
    return 1 if slow or any(run.queries != small.queries for run in runs) else 0


# --- set-up -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class People:
    staff: list
    manager: object


def prepare() -> People:
    """Migrate; the responders and the manager; no task left queued from an earlier run."""
    from django.core.management import call_command
    from django_q.models import OrmQ

    from itsm.roles import Role

    call_command("migrate", interactive=False, verbosity=0)
    OrmQ.objects.all().delete()
    return People(
        staff=[user_with_role(name, Role.RESPONDER) for name in STAFF],
        manager=user_with_role(MANAGER, Role.ITSM_MANAGER),
    )


def user_with_role(username: str, role: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.org"}
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def seed_incident(people: People, *, events: int, index: int):
    """A P1 declared a major incident, its roles taken, `events` timeline events over two
    hours (notes, some pinned, role changes, pages, SLA and notification records), and a
    scratchpad of SCRATCHPAD_BYTES with TODO, FIXME and ACTION lines; acknowledged and under
    investigation, ready to resolve."""
    from incidents.choices import ChangeSource
    from incidents.services import incident_create, incident_transition
    from warroom.choices import WarRoomRole
    from warroom.services import major_incident_declare, role_assign, scratchpad_update

    cli = ChangeSource.CLI
    incident = incident_create(
        actor=people.staff[0],
        source=cli,
        title=f"Checkout down for every customer (benchmark run {index + 1})",
        impact=1,
        urgency=1,
        affected_users=12_000,
    )
    major = major_incident_declare(
        incident=incident,
        actor=people.manager,
        source=cli,
        manager=people.manager,
        initial_impact_statement="Nobody can pay; seeded by tests/benchmarks/bench_postmortem.py.",
    )
    for role, user in zip(WarRoomRole.values, people.staff, strict=False):
        role_assign(major=major, actor=people.manager, source=cli, role=role, user=user)
    scratchpad_update(
        major=major, actor=people.staff[0], base_version=0, text=scratchpad(random.Random(index))
    )
    bulk_events(incident, people, count=events, rng=random.Random(index))
    return incident_transition(
        incident=incident_transition(
            incident=incident, name="acknowledge", actor=people.staff[0], source=cli
        ),
        name="start",
        actor=people.staff[0],
        source=cli,
    )


def scratchpad(rng: random.Random) -> str:
    """About SCRATCHPAD_BYTES of notes, one line in eight an action line (some repeated)."""
    lines, size = [], 0
    while size < SCRATCHPAD_BYTES:
        if rng.random() < 1 / 8:
            marker = rng.choice(("TODO", "- FIXME:", "ACTION", "* [ ] TODO"))
            line = f"{marker} follow up on finding {rng.randrange(120)} with the owning team"
        else:
            line = f"{rng.randrange(24):02d}:{rng.randrange(60):02d} " + " ".join(
                rng.choice(("checked", "pool", "db", "latency", "rollback", "canary", "errors"))
                for _ in range(rng.randrange(6, 16))
            )
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def bulk_events(incident, people: People, *, count: int, rng: random.Random) -> None:
    """`count` events written at once, as two hours of a busy war room would leave them."""
    from incidents.choices import ChangeSource, EventType
    from incidents.models import IncidentEvent

    start = datetime.now(UTC) - timedelta(hours=2)
    kinds = [
        (0.60, EventType.NOTE, {}),
        (0.10, EventType.NOTIFICATION, {}),
        (0.10, EventType.SLA, {"deadline": "warning"}),
        (0.10, EventType.PAGE, {}),
        (0.05, EventType.WARROOM, {"action": "role_assigned"}),
        (0.05, EventType.WARROOM, {"action": "presence"}),
    ]
    weights = [share for share, _, _ in kinds]
    rows = []
    for n in range(count):
        _, type, data = rng.choices(kinds, weights)[0]
        rows.append(
            IncidentEvent(
                incident=incident,
                type=type,
                actor=rng.choice(people.staff),
                source=ChangeSource.PORTAL,
                at=start + timedelta(seconds=n * 7200 / count),
                summary=f"Benchmark event {n}",
                data={**data, "text": f"benchmark note {n}"} if type == EventType.NOTE else data,
                pinned=type == EventType.NOTE and rng.random() < 0.1,
            )
        )
    IncidentEvent.objects.bulk_create(rows, batch_size=1_000)


# --- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    seconds: float
    queries: int
    timeline_rows: int
    proposals: int


@dataclass(frozen=True)
class RunResult:
    readable: float  # resolution (resolved_at) → review visible to a reader
    pickup: float  # resolution → the worker started the job
    job: float  # the job's run in the worker, its after-commit sends included
    generate: float
    queries: int
    timeline_rows: int
    proposals: int


def measure_run(people: People, index: int, *, events: int) -> RunResult:
    from incidents.choices import ChangeSource
    from incidents.services import incident_transition
    from postmortems.models import PostIncidentReview

    incident = seed_incident(people, events=events, index=index)
    resolved = incident_transition(
        incident=incident,
        name="resolve",
        actor=people.staff[0],
        source=ChangeSource.CLI,
        resolution_code="fixed",
        resolution_notes="Restarted the pool with a higher limit.",
    )
    resolution = resolved.resolved_at.timestamp()
    reviews = PostIncidentReview.objects.filter(incident_id=incident.pk)
    while not reviews.exists():
        if time.time() - resolution > DRAFT_TIMEOUT_SECONDS:
            raise SystemExit(f"No draft after {DRAFT_TIMEOUT_SECONDS} s; see {WORKER_LOG}.")
        time.sleep(POLL_SECONDS)
    readable = time.time() - resolution
    started, stopped = job_times(incident.pk)
    alone = generation(incident)
    print(
        f"run {index + 1}: draft readable {readable:.3f} s after the resolution "
        f"({alone.timeline_rows} timeline rows, {alone.proposals} proposed items)",
        flush=True,
    )
    return RunResult(
        readable=readable,
        pickup=started.timestamp() - resolution,
        job=(stopped - started).total_seconds(),
        generate=alone.seconds,
        queries=alone.queries,
        timeline_rows=alone.timeline_rows,
        proposals=alone.proposals,
    )


def job_times(incident_id: int) -> tuple[datetime, datetime]:
    """When the worker started and finished the drafting job, the outbox item the resolution
    recorded (django-q saves the task as it finishes, maybe just after the review is
    visible)."""
    from django_q.models import Task

    from itsm.models import OutboxItem
    from itsm.outbox import RUN_TASK
    from postmortems.receivers import ENSURE_REVIEW

    item = OutboxItem.objects.get(kind=ENSURE_REVIEW, payload__incident_id=incident_id)
    deadline = time.monotonic() + DRAFT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for task in Task.objects.filter(func=RUN_TASK).order_by("-started")[:5]:
            if task.args[0] == item.pk:
                return task.started, task.stopped
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"The job's task record did not appear; see {WORKER_LOG}.")


def generation(incident) -> Generation:
    """`generate(incident)` in this process: the best of a few runs, and its queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from postmortems.drafting import generate

    timings = []
    for _ in range(GENERATE_REPEATS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            draft = generate(incident)
            timings.append(time.perf_counter() - started)
    return Generation(
        seconds=min(timings),
        queries=len(queries),
        timeline_rows=len(draft["timeline"]),
        proposals=len(draft["proposed_action_items"]),
    )


# --- the report ---------------------------------------------------------------------------------


def report(runs: list[RunResult], small: Generation, *, events: int) -> str:
    def row(name: str, values: list[float], unit: str, aim: str = "—", scale: float = 1.0):
        digits = 0 if unit == "count" else 3
        cells = [
            f"{statistics.median(values) * scale:.{digits}f}",
            f"{max(values) * scale:.{digits}f}",
        ]
        return [f"{name} ({unit})", *cells, aim]

    rows = [
        row(
            "resolution → draft readable",
            [r.readable for r in runs],
            "s",
            f"< {AIM_SECONDS:g} s",
        ),
        row("… of which: the worker picks the job up", [r.pickup for r in runs], "s"),
        row("… the job runs in the worker", [r.job for r in runs], "s"),
        row("generate() alone, in this process", [r.generate for r in runs], "ms", scale=1000),
        row("queries of generate()", [r.queries for r in runs], "count", f"= {small.queries}"),
    ]
    met = statistics.median(r.readable for r in runs) < AIM_SECONDS
    return (
        f"{len(runs)} runs; each a major incident with {events:,} timeline events and a "
        f"{SCRATCHPAD_BYTES // 1000} KB scratchpad ({runs[0].timeline_rows} timeline rows, "
        f"{runs[0].proposals} proposed action items in the draft).\n\n"
        + markdown_table(["measure", "median", "max", "aim"], rows)
        + f"\n\nThe aim (median under {AIM_SECONDS:g} s) is {'met' if met else 'NOT met'}. "
        f"An incident of {SMALL_EVENTS} events: generate() takes {small.seconds * 1000:.1f} ms "
        f"and {small.queries} queries."
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("Interrupted; the worker has been stopped.")
