"""Alert storm benchmark (`make bench`): 20,000 Alertmanager notifications of one alert each, in
2,000 groups (each group's first notification new, its other nine repeats: 90 % repeats), posted
in a random order by 32 concurrent senders to `/api/alerts/alertmanager/{key}/` on the
production ASGI server, with the worker (`manage.py qcluster`) applying what it accepts, on
PostgreSQL and Redis.

Prints the alerts accepted per second, p50 and p99 of the HTTP answer, the time until every
group's incident exists and until every payload is applied (and the time the storm took to
arrive: the backlog keeps up when the last is no longer than the storm), incidents created
(must equal the groups), duplicates and lost alerts (both must be 0), where the CPU went (web
server, worker, PostgreSQL, the load generator), and the machine's load average. The aim
(issue 12): at least 1,000 alerts/s with p99 under 100 ms.

    .venv/bin/python -m tests.benchmarks.bench_alerts [--alerts 20000] [--groups 2000]

The database (default `itsm_bench_alerts`, on the server DATABASE_URL names) is the
benchmark's own; each run adds a new integration whose key only it posts to, and counts only
what that integration made.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field

from tests.benchmarks._common import (
    PROJECT_DIR,
    CpuSample,
    Endpoint,
    HttpConnection,
    add_server_arguments,
    markdown_table,
    parse_with_hog,
    percentile_ms,
    print_machine_load,
    running_command,
    running_server,
    server_command,
    server_log,
    setup_django_in_own_database,
    stop_on_sigterm,
    wait_for_worker,
)

DEFAULT_DATABASE = "itsm_bench_alerts"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SERVICE = "bench-alerts-service"
TEAM = "bench-alerts-team"
AIM_PER_SECOND = 1_000
AIM_P99_MS = 100
POLL_SECONDS = 0.1
SETTLE_TIMEOUT_SECONDS = 600
STARTS_AT = "2026-12-04T00:00:00Z"
WORKER_LOG = PROJECT_DIR / "var" / "bench-alerts-worker.log"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="database name to use")
    parser.add_argument("--alerts", type=int, default=20_000, help="notifications posted")
    parser.add_argument("--groups", type=int, default=2_000, help="distinct alert groups")
    parser.add_argument("--senders", type=int, default=32, help="concurrent senders")
    add_server_arguments(parser, port=8108)
    return parse_with_hog(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    env = setup_django_in_own_database(args.database, redis=DEFAULT_REDIS_URL)
    integration = prepare()
    storm = notifications(integration.key, alerts=args.alerts, groups=args.groups)
    command = server_command(args.server, args.port, args.app)
    print(f"Server: {' '.join(command[1:])}")
    print(
        f"Storm: {args.alerts:,} Alertmanager notifications of one alert, {args.groups:,} "
        f"groups ({1 - args.groups / args.alerts:.0%} repeats), {args.senders} senders, "
        f"random order"
    )
    worker_command = [sys.executable, "manage.py", "qcluster"]
    with (
        running_command(worker_command, env=env, log=WORKER_LOG) as worker,
        running_server(command, port=args.port, env=env) as server,
    ):
        wait_for_worker(WORKER_LOG)
        print_machine_load()
        load_before = os.getloadavg()
        watcher = BacklogWatcher(integration.pk, expected=args.groups)
        cpu_before = Cpu.take(server.pid, worker.pid)
        watcher.start()
        result = asyncio.run(send(storm, port=args.port, senders=args.senders))
        watcher.finish()
        cpu_after = Cpu.take(server.pid, worker.pid)
        load_after = os.getloadavg()
    outcome = count(integration.pk, sent=len(storm))
    print()
    print(report(result, watcher, outcome, cpu_before, cpu_after, args.groups))
    print(
        "Load average (1, 5, 15 min): before "
        + ", ".join(f"{v:.2f}" for v in load_before)
        + "; after "
        + ", ".join(f"{v:.2f}" for v in load_after)
        + f" ({os.cpu_count()} cores)",
        flush=True,
    )
    problems = find_problems(result, watcher, outcome, args.groups)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"The log: {server_log(args.port)}", file=sys.stderr)
    return 1 if problems else 0


# --- data ---------------------------------------------------------------------------------------
# Django's modules are imported inside the functions: main() sets Django up only after pointing
# the environment at the benchmark's database.


def prepare():
    """Migrate; the service and team once; a new Alertmanager integration for this run, its
    rate limit out of the way (the storm measures ingestion, not the 429)."""
    from django.core.management import call_command
    from django.db import connections

    from incidents.alerts.services import integration_create
    from incidents.models import Service, Team

    call_command("migrate", interactive=False, verbosity=0)
    team, _ = Team.objects.get_or_create(slug=TEAM, defaults={"name": "Bench alerts team"})
    service, _ = Service.objects.get_or_create(
        slug=SERVICE, defaults={"name": "Bench alerts service", "owner_team": team}
    )
    integration = integration_create(
        actor=None,
        kind="alertmanager",
        service=service,
        name=f"Alert storm {time.strftime('%Y-%m-%d %H:%M:%S')}",
        rate_limit=10**9,
    )
    connections.close_all()
    return integration


def notifications(key: str, *, alerts: int, groups: int) -> list[Endpoint]:
    """Each group's notification `alerts // groups` times (the rest spread over the first
    groups), shuffled: the first of each group to arrive opens it, the others repeat."""
    path = f"/api/alerts/alertmanager/{key}/"
    bodies = [_body(n) for n in range(groups)]
    order = [n % groups for n in range(alerts)]
    random.Random(12).shuffle(order)
    headers = (("Content-Type", "application/json"), ("User-Agent", "Alertmanager/0.25.0"))
    return [Endpoint("alert", "POST", (path,), headers, bodies[n]) for n in order]


def _body(n: int) -> bytes:
    """Alertmanager's webhook (version 4) for group `n`: one firing alert."""
    labels = {
        "alertname": f"StormAlert{n:04d}",
        "instance": f"node-{n:04d}:9100",
        "job": "node",
        "severity": ("critical", "error", "warning", "info")[n % 4],
    }
    annotations = {
        "summary": f"Storm alert {n:04d} firing",
        "description": "Posted by tests/benchmarks/bench_alerts.py.",
    }
    group_key = f'{{}}:{{alertname="{labels["alertname"]}"}}'
    return json.dumps(
        {
            "receiver": "itsm-portal",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": STARTS_AT,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example.org:9090/graph",
                    "fingerprint": f"{n:016x}",
                }
            ],
            "groupLabels": {"alertname": labels["alertname"]},
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": "http://alertmanager.example.org:9093",
            "version": "4",
            "groupKey": group_key,
            "truncatedAlerts": 0,
        }
    ).encode()


# --- the storm ----------------------------------------------------------------------------------


@dataclass
class StormResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    client_cpu: float = 0.0


async def send(storm: list[Endpoint], *, port: int, senders: int) -> StormResult:
    """`senders` keep-alive connections taking the storm's notifications in turn, each posting
    its next one as soon as the previous answer arrives."""
    result = StormResult()
    pending = iter(storm)

    async def sender() -> None:
        connection = HttpConnection(port)
        try:
            for endpoint in pending:
                started = time.monotonic()
                try:
                    status, body = await connection.request(endpoint, endpoint.paths[0])
                except (OSError, asyncio.IncompleteReadError) as exc:
                    await connection.close()
                    status, body = 0, repr(exc).encode()
                result.latencies.append(time.monotonic() - started)
                if status != 202:
                    result.errors += 1
                    result.first_error = result.first_error or f"{status} {body[:300]!r}"
        finally:
            await connection.close()

    cpu = time.process_time()
    started = time.monotonic()
    await asyncio.gather(*(sender() for _ in range(senders)))
    result.seconds = time.monotonic() - started
    result.client_cpu = time.process_time() - cpu
    return result


class BacklogWatcher(threading.Thread):
    """Polls, from the storm's start, how many of the integration's groups have their incident
    and how many of its payloads are still pending, until all `expected` incidents exist and
    nothing is pending, or SETTLE_TIMEOUT_SECONDS after the storm ended (`finish`)."""

    def __init__(self, integration_id: int, *, expected: int):
        super().__init__(daemon=True)
        self.integration_id = integration_id
        self.expected = expected
        self.started = time.monotonic()
        self.deadline = float("inf")
        self.all_seconds: float | None = None  # every incident exists
        self.applied_seconds: float | None = None  # no payload pending (after the storm)
        self.storm_over = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from incidents.models import AlertGroup, ReceivedPayload

        groups = AlertGroup.objects.filter(
            integration_id=self.integration_id, incident__isnull=False
        )
        pending = ReceivedPayload.objects.filter(
            integration_id=self.integration_id, outcome="pending"
        )
        self.started = time.monotonic()
        try:
            while time.monotonic() < self.deadline and self.applied_seconds is None:
                if self.all_seconds is None and groups.count() >= self.expected:
                    self.all_seconds = time.monotonic() - self.started
                if self.storm_over.is_set() and not pending.exists():
                    self.applied_seconds = time.monotonic() - self.started
                time.sleep(POLL_SECONDS)
        finally:
            connection.close()

    def finish(self) -> None:
        self.deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        self.storm_over.set()
        self.join()


@dataclass(frozen=True)
class Cpu:
    """CPU seconds so far of the machine's parts: the web server, the worker, PostgreSQL."""

    web: CpuSample
    worker: CpuSample

    @classmethod
    def take(cls, server_pgid: int, worker_pgid: int) -> "Cpu":
        return cls(CpuSample.take(server_pgid), CpuSample.take(worker_pgid))


@dataclass(frozen=True)
class Outcome:
    incidents: int
    groups_with_incident: int
    duplicates: int
    recorded: int  # alerts counted by the groups (received_count)
    payloads: int  # payloads kept as accepted
    lost: int


def count(integration_id: int, *, sent: int) -> Outcome:
    """What the integration made: its incidents, and the notifications its groups counted."""
    from django.db.models import Count, Sum

    from incidents.models import AlertGroup, Incident, ReceivedPayload

    groups = AlertGroup.objects.filter(integration_id=integration_id)
    incidents = Incident.objects.filter(alert_groups__integration_id=integration_id).distinct()
    per_key = groups.values("key").annotate(n=Count("incident", distinct=True))
    duplicates = sum(row["n"] - 1 for row in per_key if row["n"] > 1)
    recorded = groups.aggregate(total=Sum("received_count"))["total"] or 0
    payloads = ReceivedPayload.objects.filter(
        integration_id=integration_id, outcome="accepted"
    ).count()
    return Outcome(
        incidents=incidents.count(),
        groups_with_incident=groups.filter(incident__isnull=False).count(),
        duplicates=duplicates,
        recorded=recorded,
        payloads=payloads,
        lost=sent - min(recorded, payloads),
    )


# --- output -------------------------------------------------------------------------------------


def report(result, watcher, outcome, cpu_before, cpu_after, groups: int) -> str:
    """The table: each measure, its aim where it has one, and whether it was met."""
    sent = len(result.latencies)
    per_second = (sent - result.errors) / result.seconds if result.seconds else 0.0
    p99 = percentile_ms(result.latencies, 99)
    settled, applied = watcher.all_seconds, watcher.applied_seconds
    server_cpu = cpu_after.web.server - cpu_before.web.server
    worker_cpu = cpu_after.worker.server - cpu_before.worker.server
    database_cpu = cpu_after.web.database - cpu_before.web.database
    rows = [
        ["alerts sent", f"{sent:,}", "", None],
        ["answers other than 202", f"{result.errors:,}", "0", result.errors == 0],
        ["storm arrived in s", f"{result.seconds:.1f}", "", None],
        [
            "accepted alerts/s",
            f"{per_second:,.0f}",
            f"≥ {AIM_PER_SECOND:,}",
            per_second >= AIM_PER_SECOND,
        ],
        ["p50 ms", f"{percentile_ms(result.latencies, 50):.1f}", "", None],
        ["p99 ms", f"{p99:.1f}", f"< {AIM_P99_MS}", p99 < AIM_P99_MS],
        [
            "every incident exists after s",
            f"{settled:.1f}" if settled is not None else "never",
            f"≤ {result.seconds:.1f}",
            settled is not None and settled <= result.seconds,
        ],
        [
            "every alert applied after s",
            f"{applied:.1f}" if applied is not None else "never",
            f"≤ {result.seconds:.1f}",
            applied is not None and applied <= result.seconds,
        ],
        ["incidents created", f"{outcome.incidents:,}", f"{groups:,}", outcome.incidents == groups],
        ["duplicates", f"{outcome.duplicates:,}", "0", outcome.duplicates == 0],
        ["lost alerts", f"{outcome.lost:,}", "0", outcome.lost == 0],
        ["web server CPU ms/alert", f"{server_cpu / sent * 1000:.2f}", "", None],
        ["worker CPU ms/alert", f"{worker_cpu / sent * 1000:.2f}", "", None],
        ["PostgreSQL CPU ms/alert", f"{database_cpu / sent * 1000:.2f}", "", None],
        ["load generator CPU ms/alert", f"{result.client_cpu / sent * 1000:.2f}", "", None],
    ]
    table = [[*row[:3], "—" if row[3] is None else ("yes" if row[3] else "NO")] for row in rows]
    return markdown_table(["measure", "value", "aim", "met"], table)


def find_problems(result, watcher, outcome, groups: int) -> list[str]:
    problems = []
    if result.errors:
        problems.append(f"{result.errors} answers were not 202; the first: {result.first_error}")
    if watcher.all_seconds is None:
        problems.append(
            f"Not every group had its incident {SETTLE_TIMEOUT_SECONDS} s after the storm."
        )
    if outcome.incidents != groups:
        problems.append(f"{outcome.incidents} incidents for {groups} groups.")
    if outcome.duplicates:
        problems.append(f"{outcome.duplicates} duplicate incidents.")
    if outcome.lost:
        problems.append(
            f"{outcome.lost} alerts lost (groups counted {outcome.recorded}, "
            f"payloads kept {outcome.payloads})."
        )
    return problems


if __name__ == "__main__":
    sys.exit(main())
