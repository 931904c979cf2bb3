"""API benchmark (`make bench`): the production ASGI server on PostgreSQL with 100,000 incidents.

Drives `GET /healthz/live` (the floor: the server and Django with no database), create and the
dashboard page, then list and detail in interleaved rounds beside two other implementations of
the same JSON (`tests/benchmarks/api_variants.py`: the practical limit, and stock DRF), each
with the same number of concurrent clients for a fixed time. Prints requests/s, p50 and p99
latency and each endpoint's ratio to the floor, then the CPU per request of the three
implementations and our ratios to the other two.

    .venv/bin/python -m tests.benchmarks.bench_api [--seconds 15] [--rounds 3] [--server …]

`--incidents 1000000 --database itsm_bench_1m` runs it on a million incidents in a database of
its own (seeded once, kept), for the growth table in docs/benchmarks.md.
"""

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from tests.benchmarks._common import (
    DEFAULT_REDIS_URL,
    Endpoint,
    LoadResult,
    add_server_arguments,
    load_report,
    markdown_table,
    measure,
    parse_with_hog,
    print_machine_load,
    reserve_incident_numbers,
    running_server,
    server_command,
    server_log,
    setup_django,
    setup_django_in_own_database,
    signed_in_session,
    stop_on_sigterm,
    vacuum_analyze,
)

INCIDENTS = 100_000
BATCH_SIZE = 5_000
DETAIL_SAMPLE = 10_000
USERNAME = "bench-responder"
TEAM_SLUG = "bench-team"
SERVICE_SLUGS = tuple(f"bench-service-{i:02d}" for i in range(1, 13))
# Seeded statuses, weighted like a portal a year into production: most incidents are closed.
STATUS_WEIGHTS = {
    "closed": 85,
    "resolved": 5,
    "cancelled": 3,
    "new": 2,
    "acknowledged": 1,
    "investigating": 2,
    "on_hold": 1,
    "mitigated": 1,
}
FLOOR = "GET /healthz/live"
CREATE = "POST /api/incidents/"
DASHBOARD = "GET / (the dashboard page)"
LIST = "GET /api/incidents/?page_size=50"
DETAIL = "GET /api/incidents/{number}/"
AIMS = {CREATE: 0.2, LIST: 0.2, DETAIL: 0.4}  # each endpoint's req/s as a share of the floor's
# The implementations of list and detail measured side by side, and where each is mounted.
OURS, LIMIT, STOCK = "ours", "limit", "stock DRF"
PREFIXES = {OURS: "/api", LIMIT: "/bench/limit", STOCK: "/bench/drf"}
LIMIT_AIM = 1.5  # ours at most this many times the limit's CPU per request
BENCH_APP = "tests.benchmarks.api_asgi:application"  # the project's URLs plus /bench/…


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="measured time per endpoint")
    parser.add_argument(
        "--incidents", type=int, default=INCIDENTS, help="incidents to seed up to (100,000)"
    )
    parser.add_argument(
        "--database", help="a database of its own on DATABASE_URL's server (default: DATABASE_URL)"
    )
    add_server_arguments(parser, port=8105)
    parser.set_defaults(app=BENCH_APP)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds of list and detail"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--client-processes", type=int, default=1, help="processes the clients are spread over"
    )
    return parse_with_hog(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    if args.database:
        env = setup_django_in_own_database(args.database, redis=DEFAULT_REDIS_URL)
    else:
        env = setup_django()
    token, session, numbers = prepare_database(args.incidents)
    command = server_command(args.server, args.port, args.app)
    print(f"Server: {' '.join(command[1:])}")
    print(
        f"Load: {args.clients} clients in {args.client_processes} process(es), "
        f"{args.seconds:g} s per endpoint after 1 s of warm-up; list and detail in "
        f"{args.rounds} interleaved rounds of {', '.join(PREFIXES)}"
    )
    with running_server(command, port=args.port, env=env) as server:
        print_machine_load()

        def run(endpoint: Endpoint) -> LoadResult:
            return measure(
                endpoint,
                server=server,
                port=args.port,
                clients=args.clients,
                seconds=args.seconds,
                processes=args.client_processes,
            )

        endpoints = build_endpoints(token, session)
        results = {endpoint.name: run(endpoint) for endpoint in endpoints}
        rounds = measure_side_by_side(run, build_variants(token, numbers), args.rounds)
    results.update((name, combined(rounds[name, OURS])) for name in (LIST, DETAIL))
    print()
    print(report(results))
    print()
    print(side_by_side_report(rounds))
    failed = {name: r for name, r in results.items() if r.errors}
    failed.update(
        (f"{name} ({implementation})", combined(runs))
        for (name, implementation), runs in rounds.items()
        if any(r.errors for r in runs)
    )
    for name, result in failed.items():
        print(f"{name}: {result.errors} errors; first: {result.first_error}", file=sys.stderr)
    if failed:
        print(f"The server's log: {server_log(args.port)}", file=sys.stderr)
    return 1 if failed else 0


# --- data ---------------------------------------------------------------------------------------
# Django's modules are imported inside the functions: main() sets Django up only after pointing
# the environment at the benchmark's database.


def prepare_database(incidents: int) -> tuple[str, str, list[str]]:
    """Migrate, seed up to `incidents`, and return a fresh bearer token, a signed-in session's
    key and a sample of incident numbers."""
    from django.core.management import call_command
    from django.db import connections

    from incidents.models import Incident

    call_command("migrate", interactive=False, verbosity=0)
    user = responder()
    seed_incidents(incidents, user)
    token, session = bearer_token(user), signed_in_session(user)
    numbers = list(Incident.objects.values_list("number", flat=True))
    sample = random.sample(numbers, min(DETAIL_SAMPLE, len(numbers)))
    connections.close_all()
    return token, session, sample


def responder():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from itsm.roles import Role

    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    user.groups.add(Group.objects.get(name=Role.RESPONDER))
    return user


def bearer_token(user) -> str:
    from itsm.services import token_create

    _, raw = token_create(user=user, name="benchmark")
    return raw


def seed_incidents(target: int, user) -> None:
    """Top the database up to `target` incidents with bulk inserts: incident rows numbered from
    the same sequence the service uses, one `created` timeline event each, and their services."""
    from incidents.models import Incident, IncidentEvent
    from incidents.services import priority_for

    missing = target - Incident.objects.count()
    if missing <= 0:
        print(f"Database already holds {target:,} incidents or more; not seeding.")
        return
    print(f"Seeding {missing:,} incidents…", flush=True)
    started = time.monotonic()
    team, services = seed_catalogue()
    matrix = {(i, u): priority_for(i, u) for i in (1, 2, 3) for u in (1, 2, 3)}
    rng = random.Random(2)
    for done in range(0, missing, BATCH_SIZE):
        _seed_batch(min(BATCH_SIZE, missing - done), matrix, user, team, services, rng)
    vacuum_analyze(Incident, IncidentEvent, Incident.services.through)
    print(f"Seeded in {time.monotonic() - started:.0f} s.")


def seed_catalogue():
    """The team and the services seeded incidents point at."""
    from incidents.models import Service, Team

    team, _ = Team.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": "Benchmark team"})
    services = [
        Service.objects.get_or_create(
            slug=slug, defaults={"name": slug.replace("-", " ").title(), "owner_team": team}
        )[0]
        for slug in SERVICE_SLUGS
    ]
    return team, services


def _seed_batch(size: int, matrix: dict, user, team, services, rng: random.Random) -> None:
    from django.db import transaction

    from incidents.models import Incident, IncidentEvent

    with transaction.atomic():
        incidents = Incident.objects.bulk_create(
            Incident(**_incident_fields(number, matrix, rng, user=user, team=team))
            for number in reserve_incident_numbers(size)
        )
        links = [
            (incident, rng.sample(services, rng.choice((0, 1, 1, 1, 2)))) for incident in incidents
        ]
        Incident.services.through.objects.bulk_create(
            Incident.services.through(incident_id=incident.pk, service_id=service.pk)
            for incident, chosen in links
            for service in chosen
        )
        IncidentEvent.objects.bulk_create(
            IncidentEvent(**_created_event_fields(incident, chosen), actor=user)
            for incident, chosen in links
        )


# How far along its lifecycle each seeded status is, and when each step happened.
STEPS_REACHED = {
    "new": 0,
    "cancelled": 0,
    "acknowledged": 1,
    "investigating": 1,
    "on_hold": 1,
    "mitigated": 2,
    "resolved": 3,
    "closed": 4,
}
STEP_AFTER = (
    ("acknowledged_at", timedelta(minutes=5)),
    ("mitigated_at", timedelta(hours=1)),
    ("resolved_at", timedelta(hours=3)),
    ("closed_at", timedelta(days=2)),
)


def _incident_fields(number: str, matrix: dict, rng: random.Random, *, user, team) -> dict:
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    reached = STEPS_REACHED[status]
    created = datetime.now(UTC) - timedelta(minutes=rng.randrange(365 * 24 * 60))
    impact, urgency = rng.randint(1, 3), rng.randint(1, 3)
    return {
        "number": number,
        "title": f"Benchmark incident {number}",
        "description": "Seeded by tests/benchmarks/bench_api.py.",
        "impact": impact,
        "urgency": urgency,
        "priority": matrix[impact, urgency],
        "status": status,
        "team": team,
        "reporter": user,
        "assignee": user if reached else None,
        "source": "api",
        "affected_users": rng.randrange(500),
        "detected_at": created,
        "started_at": created,
        "created_at": created,
        "hold_reason": "Waiting for the vendor." if status == "on_hold" else "",
        "mitigation_note": "Traffic moved to the standby." if reached >= 2 else "",
        "resolution_code": "fixed" if reached >= 3 else "",
        "resolution_notes": "Configuration corrected." if reached >= 3 else "",
        "cancel_reason": "False positive." if status == "cancelled" else "",
        "cancelled_at": created + timedelta(minutes=30) if status == "cancelled" else None,
        **{name: created + after for name, after in STEP_AFTER[:reached]},
    }


def _created_event_fields(incident, services) -> dict:
    return {
        "incident": incident,
        "type": "created",
        "source": "api",
        "at": incident.created_at,
        "summary": f"{incident.number} logged as {incident.priority}: {incident.title}",
        "data": {"priority": incident.priority, "services": [s.slug for s in services]},
    }


# --- load and report ----------------------------------------------------------------------------


def build_endpoints(token: str, session: str) -> list[Endpoint]:
    auth = (("Authorization", f"Bearer {token}"), ("Accept", "application/json"))
    body = {
        "title": "Checkout latency above 2 s",
        "impact": 2,
        "urgency": 1,
        "services": list(SERVICE_SLUGS[:2]),
    }
    return [
        Endpoint(FLOOR, "GET", ("/healthz/live",)),
        Endpoint(
            CREATE,
            "POST",
            ("/api/incidents/",),
            headers=(*auth, ("Content-Type", "application/json")),
            body=json.dumps(body).encode(),
        ),
        Endpoint(DASHBOARD, "GET", ("/",), headers=(("Cookie", session_cookie(session)),)),
    ]


def session_cookie(session: str) -> str:
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={session}"


def build_variants(token: str, numbers: list[str]) -> dict[tuple[str, str], Endpoint]:
    """List and detail of each implementation, keyed by (endpoint, implementation)."""
    auth = (("Authorization", f"Bearer {token}"), ("Accept", "application/json"))
    variants = {}
    for implementation, prefix in PREFIXES.items():
        variants[LIST, implementation] = Endpoint(
            LIST, "GET", (f"{prefix}/incidents/?page_size=50",), headers=auth
        )
        variants[DETAIL, implementation] = Endpoint(
            DETAIL, "GET", tuple(f"{prefix}/incidents/{n}/" for n in numbers), headers=auth
        )
    return variants


def measure_side_by_side(
    run, variants: dict[tuple[str, str], Endpoint], rounds: int
) -> dict[tuple[str, str], list[LoadResult]]:
    """Every variant once per round, the implementations' order rotating from round to round,
    so that a change in the machine's load falls on all three alike."""
    results = {key: [] for key in variants}
    implementations = list(PREFIXES)
    for number in range(rounds):
        order = implementations[number % 3 :] + implementations[: number % 3]
        print(f"Round {number + 1} of {rounds}: {', '.join(order)}", flush=True)
        for name in (LIST, DETAIL):
            for implementation in order:
                results[name, implementation].append(run(variants[name, implementation]))
    return results


def combined(runs: list[LoadResult]) -> LoadResult:
    """Runs one after the other as one run: their requests, time and CPU added up."""
    total = LoadResult()
    for result in runs:
        total.requests += result.requests
        total.errors += result.errors
        total.seconds += result.seconds
        total.latencies.extend(result.latencies)
        total.first_error = total.first_error or result.first_error
        total.client_cpu += result.client_cpu
        total.server_cpu += result.server_cpu
        total.database_cpu += result.database_cpu
        total.other_cpu += result.other_cpu
    return total


def cpu_per_request(result: LoadResult) -> float:
    """Server plus PostgreSQL CPU ms per request: what the machine pays for one answer."""
    return result.cpu_ms_per_request(result.server_cpu + result.database_cpu)


def side_by_side_report(rounds: dict[tuple[str, str], list[LoadResult]]) -> str:
    """Each implementation's CPU per request (median over the rounds) and, per round, ours
    divided by it; the ratios are the medians of the rounds' ratios."""
    rows, summary = [], []
    for name in (LIST, DETAIL):
        ours = [cpu_per_request(r) for r in rounds[name, OURS]]
        for implementation in PREFIXES:
            runs = rounds[name, implementation]
            total = combined(runs)
            ratio = statistics.median(
                o / cpu_per_request(r) if cpu_per_request(r) else 0.0
                for o, r in zip(ours, runs, strict=True)
            )
            rows.append(
                [
                    name,
                    implementation,
                    f"{total.requests:,}",
                    f"{total.errors:,}",
                    f"{total.per_second:,.0f}",
                    f"{statistics.median(r.cpu_ms_per_request(r.server_cpu) for r in runs):.1f}",
                    f"{statistics.median(r.cpu_ms_per_request(r.database_cpu) for r in runs):.1f}",
                    f"{statistics.median(cpu_per_request(r) for r in runs):.1f}",
                    f"{ratio:.2f}×",
                ]
            )
            if implementation != OURS:
                summary.append((name, implementation, ratio))
    columns = [
        "endpoint",
        "implementation",
        "requests",
        "errors",
        "req/s",
        "server CPU ms/req",
        "PostgreSQL CPU ms/req",
        "CPU ms/req",
        "ours ÷ this",
    ]
    lines = [
        f"{name}: ours/{implementation} {ratio:.2f}×"
        + (
            f" (aim ≤ {LIMIT_AIM}: {'met' if ratio <= LIMIT_AIM else 'NOT met'})"
            if implementation == LIMIT
            else f" ({'ahead' if ratio < 1 else 'NOT ahead'})"
        )
        for name, implementation, ratio in summary
    ]
    rounds_run = len(next(iter(rounds.values())))
    return (
        f"{markdown_table(columns, rows)}\n\n"
        f"CPU ms/req is server + PostgreSQL; each figure is the median of {rounds_run} "
        f"interleaved rounds.\n" + "\n".join(lines)
    )


def report(results: dict[str, LoadResult]) -> str:
    return load_report(results, floor=FLOOR, aims=AIMS)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("Interrupted; the server has been stopped.")
