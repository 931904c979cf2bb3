"""Status page benchmark (`make bench`): the public page and Statuspage's summary.json under 64
concurrent clients while a major incident posts a public update every second, on the production
ASGI server with PostgreSQL and Redis; 50 public components and 10,000 past incidents over the
last 90 days. Then one public update sent to 10,000 subscribers through the worker.

Prints, for `/healthz/live` (the floor), `/status/` and `summary.json`: req/s, p50 and p99
latency, the ratio to the floor (the aim: at least 0.5) and where the CPU went; how many
updates were posted and whether each was on the page and in summary.json at once (read right
after its 201); what a cache miss costs. Then the time from posting one update to the last of
10,000 emails sent by `manage.py qcluster`, and the rate per 1,000.

    .venv/bin/python -m tests.benchmarks.bench_status [--seconds 15] [--clients 64]

The database (default `itsm_bench_status`, on the server DATABASE_URL names) is the
benchmark's own: it is seeded once, and every run adds a major incident and its updates.
"""

import argparse
import http.client
import json
import random
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from tests.benchmarks._common import (
    HOST,
    PROJECT_DIR,
    Endpoint,
    LoadResult,
    add_server_arguments,
    load_report,
    markdown_table,
    measure,
    parse_with_hog,
    percentile_ms,
    print_machine_load,
    reserve_incident_numbers,
    running_command,
    running_server,
    server_command,
    server_log,
    setup_django_in_own_database,
    stop_on_sigterm,
    vacuum_analyze,
    wait_for_worker,
)

DEFAULT_DATABASE = "itsm_bench_status"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
GROUPS = ("Platform", "Payments", "Messaging", "Data", "Identity")
COMPONENTS_PER_GROUP = 10
PAST_INCIDENTS = 10_000
PAST_DAYS = 90
BATCH_SIZE = 1_000
SUBSCRIBERS = 10_000
SUBSCRIBER_DOMAIN = "subscribers.example.org"
PAST_PREFIX = "Past incident"
MANAGER = "bench-status-manager"
MARKER = "bench-status"
AIM = 0.5  # req/s of the page and of summary.json, as a share of the floor's
FLOOR = "GET /healthz/live"
PAGE = "GET /status/"
SUMMARY = "GET /status/api/v2/summary.json"
PAGE_PATH = "/status/"
SUMMARY_PATH = "/status/api/v2/summary.json"
# What a browser sends; the answers are what a browser gets.
BROWSER = (("Accept", "text/html,application/json"), ("Accept-Encoding", "gzip"))
SEND_TIMEOUT_SECONDS = 1_800
POLL_SECONDS = 0.25
WORKER_LOG = PROJECT_DIR / "var" / "bench-status-worker.log"
MAIL_DIR = PROJECT_DIR / "var" / "bench-status-mail"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="database name to use")
    parser.add_argument("--seconds", type=float, default=15, help="measured time per endpoint")
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument(
        "--post-every", type=float, default=1.0, help="seconds between public updates"
    )
    parser.add_argument(
        "--subscribers", type=int, default=SUBSCRIBERS, help="0: do not time the sending"
    )
    add_server_arguments(parser, port=8107)
    return parse_with_hog(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    env = setup_django_in_own_database(args.database, redis=DEFAULT_REDIS_URL)
    setup = prepare()
    misses = miss_costs()
    command = server_command(args.server, args.port, args.app)
    print(f"Server: {' '.join(command[1:])}")
    print(
        f"Load: {args.clients} clients, {args.seconds:g} s per endpoint after 1 s of warm-up; "
        f"the page and summary.json while {setup.number} posts a public update every "
        f"{args.post_every:g} s"
    )
    floor, page, summary = endpoints()
    with running_server(command, port=args.port, env=env) as server:
        print_machine_load()

        def load(endpoint: Endpoint) -> LoadResult:
            return measure(
                endpoint, server=server, port=args.port, clients=args.clients, seconds=args.seconds
            )

        results = {FLOOR: load(floor)}
        poster = Poster(args.port, setup, every=args.post_every)
        poster.start()
        try:
            results |= {endpoint.name: load(endpoint) for endpoint in (page, summary)}
        finally:
            poster.finish()
        missing = poster.missing_at_the_end()
    print()
    print(report(results, poster, missing, misses), flush=True)
    problems = load_problems(results, poster, missing)
    if args.subscribers:
        sending = time_sending(env, setup, subscribers=args.subscribers)
        print()
        print(sending_table(sending))
        problems += sending_problems(sending)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"The logs: {server_log(args.port)}, {WORKER_LOG}", file=sys.stderr)
    return 1 if problems else 0


# --- data ---------------------------------------------------------------------------------------
# Django's modules are imported inside the functions: main() sets Django up only after pointing
# the environment at the benchmark's database.


@dataclass(frozen=True)
class Setup:
    number: str  # the major incident that posts updates
    token: str  # a bearer token of the manager who posts them
    manager_id: int


def prepare() -> Setup:
    """Migrate; seed what is missing; resolve the incidents earlier runs left open; declare a
    new major incident with its first public update (three components down)."""
    from django.core.management import call_command
    from django.db import connections
    from django_q.models import OrmQ

    from itsm.services import token_create

    call_command("migrate", interactive=False, verbosity=0)
    OrmQ.objects.all().delete()
    manager = user_with_role(MANAGER)
    components = seed_components()
    seed_past_incidents(PAST_INCIDENTS, components, random.Random(11))
    resolve_left_open()
    number = declare_major_incident(manager, components)
    _, token = token_create(user=manager, name="benchmark")
    connections.close_all()
    return Setup(number=number, token=token, manager_id=manager.pk)


def user_with_role(username: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from itsm.roles import Role

    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.org", "is_staff": True}
    )
    user.groups.add(Group.objects.get(name=Role.ITSM_MANAGER))
    return user


def seed_components() -> list:
    """50 public components in five groups, through the service, once."""
    from incidents.choices import ChangeSource
    from warroom.models import StatusComponent
    from warroom.status.services import component_create

    for group in GROUPS:
        for n in range(1, COMPONENTS_PER_GROUP + 1):
            name = f"{group} {n:02d}"
            if not StatusComponent.objects.filter(name=name).exists():
                component_create(
                    actor=None, source=ChangeSource.CLI, name=name, group_name=group, position=n
                )
    return list(StatusComponent.objects.filter(public=True).order_by("pk"))


def seed_past_incidents(target: int, components: list, rng: random.Random) -> None:
    """Top up to `target` resolved public incidents over the last PAST_DAYS days, with bulk
    inserts: each an incident (closed), its public face, three updates (investigating,
    identified, resolved) naming one or two components, and their impacts."""
    from warroom.models import AffectedComponent, StatusImpact, StatusIncident, StatusUpdate

    missing = target - StatusIncident.objects.filter(name__startswith=PAST_PREFIX).count()
    if missing <= 0:
        return
    print(f"Seeding {missing:,} past public incidents…", flush=True)
    started = time.monotonic()
    for done in range(0, missing, BATCH_SIZE):
        _seed_batch(min(BATCH_SIZE, missing - done), components, rng)
    vacuum_analyze(StatusIncident, StatusUpdate, AffectedComponent, StatusImpact)
    print(f"Seeded in {time.monotonic() - started:.0f} s.", flush=True)


STATES = ("degraded_performance", "partial_outage", "major_outage")
UPDATES = (
    ("investigating", 0.0, "We are investigating reports of errors on {names}."),
    ("identified", 0.3, "The cause is identified: a **configuration change**; rolling it back."),
    ("resolved", 1.0, "This incident has been resolved."),
)


def _seed_batch(size: int, components: list, rng: random.Random) -> None:
    from django.db import transaction
    from django.utils import timezone

    from incidents.models import Incident
    from warroom.choices import INDICATOR_OF
    from warroom.models import AffectedComponent, StatusImpact, StatusIncident, StatusUpdate

    now = timezone.now()
    plans = []
    for number in reserve_incident_numbers(size):
        began = now - timedelta(minutes=rng.randrange(PAST_DAYS * 24 * 60))
        ended = min(began + timedelta(minutes=rng.randrange(20, 8 * 60)), now)
        chosen = rng.sample(components, rng.choice((1, 1, 2)))
        plans.append((number, began, ended, chosen, rng.choice(STATES)))
    with transaction.atomic():
        incidents = Incident.objects.bulk_create(
            _incident(number, began, ended) for number, began, ended, _, _ in plans
        )
        publics = StatusIncident.objects.bulk_create(
            StatusIncident(
                incident=incident,
                name=f"{PAST_PREFIX} {number}: {', '.join(c.name for c in chosen)} unavailable",
                status="resolved",
                impact=INDICATOR_OF[state],
                started_at=began,
                created_at=began,
                updated_at=ended,
                resolved_at=ended,
            )
            for incident, (number, began, ended, chosen, state) in zip(
                incidents, plans, strict=True
            )
        )
        updates = StatusUpdate.objects.bulk_create(
            StatusUpdate(
                status_incident=public,
                status=status,
                body=body.format(names=", ".join(c.name for c in chosen)),
                created_at=began + (ended - began) * share,
            )
            for public, (_, began, ended, chosen, _) in zip(publics, plans, strict=True)
            for status, share, body in UPDATES
        )
        AffectedComponent.objects.bulk_create(
            AffectedComponent(
                update=update,
                component=component,
                old_status="operational" if status == "investigating" else state,
                new_status="operational" if status == "resolved" else state,
            )
            for (_, _, _, chosen, state), triple in zip(plans, _threes(updates), strict=True)
            for update, (status, _, _) in zip(triple, UPDATES, strict=True)
            for component in chosen
        )
        StatusImpact.objects.bulk_create(
            StatusImpact(
                status_incident=public,
                component=component,
                status="operational",
                worst_status=state,
            )
            for public, (_, _, _, chosen, state) in zip(publics, plans, strict=True)
            for component in chosen
        )


def _threes(rows: list) -> list[list]:
    return [rows[i : i + len(UPDATES)] for i in range(0, len(rows), len(UPDATES))]


def _incident(number: str, began, ended):
    from incidents.models import Incident

    return Incident(
        number=number,
        title=f"Benchmark incident {number}",
        description="Seeded by tests/benchmarks/bench_status.py.",
        impact=2,
        urgency=2,
        priority="P3",
        status="closed",
        source="api",
        detected_at=began,
        started_at=began,
        created_at=began,
        acknowledged_at=began,
        resolved_at=ended,
        closed_at=ended,
        resolution_code="fixed",
        resolution_notes="Configuration corrected.",
    )


def resolve_left_open() -> None:
    """Earlier runs' major incidents, resolved on the page (through the service)."""
    from incidents.choices import ChangeSource
    from warroom.models import StatusIncident
    from warroom.status.services import status_update_post

    for public in StatusIncident.objects.exclude(status="resolved").select_related("incident"):
        status_update_post(
            incident=public.incident,
            actor=None,
            source=ChangeSource.CLI,
            status="resolved",
            body="Resolved before the next benchmark run.",
        )


def declare_major_incident(manager, components: list) -> str:
    from incidents.choices import ChangeSource
    from incidents.services import incident_create
    from warroom.services import major_incident_declare
    from warroom.status.services import ComponentState, status_update_post

    cli = ChangeSource.CLI
    incident = incident_create(
        actor=manager,
        source=cli,
        title="Checkout down for every customer (status page benchmark)",
        impact=1,
        urgency=1,
    )
    major_incident_declare(
        incident=incident,
        actor=manager,
        source=cli,
        manager=manager,
        initial_impact_statement="Nobody can pay; seeded by tests/benchmarks/bench_status.py.",
    )
    states = [
        ComponentState(components[0], "major_outage"),
        ComponentState(components[1], "partial_outage"),
        ComponentState(components[12], "degraded_performance"),
    ]
    status_update_post(
        incident=incident,
        actor=manager,
        source=cli,
        status="investigating",
        body="Payments fail for every customer; we are investigating.",
        components=states,
        name="Payments failing",
    )
    return incident.number


def seed_subscribers(count: int) -> None:
    """Exactly `count` confirmed subscribers of the whole page."""
    from django.utils import timezone

    from warroom.models import StatusSubscriber

    StatusSubscriber.objects.filter(email__gte=_subscriber_email(count)).delete()
    have = StatusSubscriber.objects.count()
    now = timezone.now()
    StatusSubscriber.objects.bulk_create(
        (
            StatusSubscriber(email=_subscriber_email(n), confirmed_at=now, created_at=now)
            for n in range(have, count)
        ),
        batch_size=BATCH_SIZE,
    )


def _subscriber_email(n: int) -> str:
    return f"reader-{n:06d}@{SUBSCRIBER_DOMAIN}"


# --- what a cache miss costs --------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    milliseconds: float
    queries: int
    kilobytes: float  # gzipped


def miss_costs() -> dict[str, Cost]:
    """Each endpoint answered in this process (best of three) with nothing cached, after a
    new version (what an update costs: the HTML of unchanged incidents and the uptime of
    resolved ones still cached), and from the cache."""
    from django.db import connections

    from warroom.status import cache

    costs = {}
    for name, path in ((PAGE, PAGE_PATH), (SUMMARY, SUMMARY_PATH)):
        costs[f"{name}, nothing cached"] = _best_of_three(path, before=cache.forget_all)
        costs[f"{name}, after an update"] = _best_of_three(path, before=cache.changed)
        costs[f"{name}, cached"] = _best_of_three(path, before=lambda: None)
    connections.close_all()
    return costs


def _best_of_three(path: str, *, before) -> Cost:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_ACCEPT_ENCODING="gzip")
    timings = []
    for _ in range(3):
        before()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            timings.append(time.perf_counter() - started)
    return Cost(min(timings) * 1000, len(queries), len(response.content) / 1000)


# --- the load -----------------------------------------------------------------------------------


def endpoints() -> tuple[Endpoint, Endpoint, Endpoint]:
    """The floor (measured while nothing is posted), the page and summary.json (measured while
    the major incident posts its updates)."""
    return (
        Endpoint(FLOOR, "GET", ("/healthz/live",), BROWSER),
        Endpoint(PAGE, "GET", (PAGE_PATH,), BROWSER),
        Endpoint(SUMMARY, "GET", (SUMMARY_PATH,), BROWSER),
    )


def _http(port: int, method: str, path: str, *, headers=None, body=None) -> tuple[int, str]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


class Poster(threading.Thread):
    """Posts a public update of the major incident every `every` seconds through the API, and
    reads the page and summary.json right after each 201: both must show it already."""

    def __init__(self, port: int, setup: Setup, *, every: float):
        super().__init__(daemon=True)
        self.port = port
        self.setup = setup
        self.every = every
        self.stopping = threading.Event()
        self.posted: list[int] = []
        self.post_seconds: list[float] = []
        self.stale: list[str] = []
        self.errors: list[str] = []

    def run(self) -> None:
        due = time.monotonic()
        seq = 0
        while not self.stopping.wait(max(0.0, due - time.monotonic())):
            due += self.every
            seq += 1
            self.post(seq)

    def finish(self) -> None:
        self.stopping.set()
        self.join()

    @staticmethod
    def body(seq: int) -> str:
        return f"{MARKER} seq={seq}: the payment provider's fail-over is in progress."

    def post(self, seq: int) -> None:
        headers = {
            "Authorization": f"Bearer {self.setup.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        status = ("identified", "monitoring", "investigating")[seq % 3]
        started = time.monotonic()
        try:
            code, answer = _http(
                self.port,
                "POST",
                f"/api/incidents/{self.setup.number}/status-updates/",
                headers=headers,
                body=json.dumps({"status": status, "body": self.body(seq)}),
            )
        except OSError as exc:
            code, answer = 0, repr(exc)
        if code != 201:
            self.errors.append(f"update {seq}: {code} {answer[:300]}")
            return
        self.post_seconds.append(time.monotonic() - started)
        self.posted.append(seq)
        for path in (PAGE_PATH, SUMMARY_PATH):
            code, text = _http(self.port, "GET", path)
            if code != 200 or self.body(seq) not in text:
                self.stale.append(f"update {seq} not in {path} right after its 201 ({code})")

    def missing_at_the_end(self) -> list[int]:
        """The posted updates the page does not show once the run is over."""
        _, html = _http(self.port, "GET", PAGE_PATH)
        return [seq for seq in self.posted if self.body(seq) not in html]


# --- sending to subscribers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sending:
    subscribers: int
    rows_written: float | None  # seconds from the commit to every email's row written
    all_sent: float | None  # … to every email sent
    sent: int
    mailed: int  # messages the email backend wrote


def time_sending(env: dict[str, str], setup: Setup, *, subscribers: int) -> Sending:
    """Post one public update with `subscribers` confirmed subscribers and the worker running;
    time until every email's notification row is written, then sent (the file backend)."""
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django_q.models import OrmQ

    from incidents.choices import ChangeSource
    from incidents.models import Incident
    from warroom.status.services import status_update_post

    OrmQ.objects.all().delete()  # the load's updates, queued while no worker ran
    seed_subscribers(subscribers)
    shutil.rmtree(MAIL_DIR, ignore_errors=True)
    worker_env = env | {"EMAIL_URL": f"filemail:///{MAIL_DIR}"}
    command = [sys.executable, "manage.py", "qcluster"]
    with running_command(command, env=worker_env, log=WORKER_LOG):
        wait_for_worker(WORKER_LOG)
        update = status_update_post(
            incident=Incident.objects.get(number=setup.number),
            actor=get_user_model().objects.get(pk=setup.manager_id),
            source=ChangeSource.CLI,
            status="monitoring",
            body="A fix is in place; we are watching the payment success rate.",
        )
        committed = time.monotonic()
        print(f"Sending one update to {subscribers:,} subscribers…", flush=True)
        written, sent, count = _wait_for_emails(update.pk, subscribers, committed)
    connections.close_all()
    return Sending(subscribers, written, sent, count, _mailed())


def _wait_for_emails(update_id: int, expected: int, committed: float):
    from itsm.choices import NotificationStatus
    from itsm.models import Notification

    rows = Notification.objects.filter(dedupe_key__startswith=f"status-update:{update_id}:")
    written = None
    sent = 0
    while time.monotonic() - committed < SEND_TIMEOUT_SECONDS:
        if written is None and rows.count() >= expected:
            written = time.monotonic() - committed
        sent = rows.filter(status=NotificationStatus.SENT).count()
        if sent >= expected:
            return written, time.monotonic() - committed, sent
        time.sleep(POLL_SECONDS)
    return written, None, sent


def _mailed() -> int:
    """Messages in the file backend's files: each is followed by a line of 79 dashes."""
    rule = b"\n" + b"-" * 79 + b"\n"
    return sum(path.read_bytes().count(rule) for path in MAIL_DIR.glob("*"))


# --- the report ---------------------------------------------------------------------------------


def report(
    results: dict[str, LoadResult], poster: Poster, missing: list[int], misses: dict[str, Cost]
) -> str:
    load = load_report(results, floor=FLOOR, aims={PAGE: AIM, SUMMARY: AIM})
    costs = markdown_table(
        ["answered in this process", "ms", "queries", "kB (gzip)"],
        [
            [name, f"{cost.milliseconds:.1f}", f"{cost.queries}", f"{cost.kilobytes:.1f}"]
            for name, cost in misses.items()
        ],
    )
    posts = (
        f"Updates posted during the load: {len(poster.posted)} (API p50 "
        f"{percentile_ms(poster.post_seconds, 50):.0f} ms, p99 "
        f"{percentile_ms(poster.post_seconds, 99):.0f} ms); stale reads right after a 201: "
        f"{len(poster.stale)}; posted but missing from the page at the end: {len(missing)}."
    )
    return f"{load}\n\n{posts}\n\n{costs}"


def sending_table(sending: Sending) -> str:
    def seconds(value: float | None) -> str:
        return f"{value:.1f}" if value is not None else "—"

    per_thousand = (
        sending.all_sent / sending.subscribers * 1000 if sending.all_sent is not None else None
    )
    return markdown_table(
        [
            "one update to subscribers",
            "emails",
            "rows written s",
            "all sent s",
            "s per 1,000",
            "sent",
            "in the mail files",
        ],
        [
            [
                "worker (manage.py qcluster)",
                f"{sending.subscribers:,}",
                seconds(sending.rows_written),
                seconds(sending.all_sent),
                seconds(per_thousand),
                f"{sending.sent:,}",
                f"{sending.mailed:,}",
            ]
        ],
    )


def load_problems(results, poster: Poster, missing: list[int]) -> list[str]:
    problems = []
    floor = results[FLOOR].per_second
    for name, result in results.items():
        if result.errors:
            problems.append(f"{name}: {result.errors} errors; first: {result.first_error}")
        if name != FLOOR and floor and result.per_second / floor < AIM:
            problems.append(f"{name}: {result.per_second / floor:.2f} of the floor, aim {AIM}")
    problems += poster.errors + poster.stale
    if not poster.posted:
        problems.append("No update was posted during the load.")
    if missing:
        problems.append(f"Updates {missing} are not on the page at the end.")
    return problems


def sending_problems(sending: Sending) -> list[str]:
    if sending.all_sent is not None and sending.mailed == sending.subscribers:
        return []
    return [
        f"{sending.sent:,} of {sending.subscribers:,} emails sent, {sending.mailed:,} in the "
        "mail files."
    ]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("Interrupted; the server and the worker have been stopped.")
