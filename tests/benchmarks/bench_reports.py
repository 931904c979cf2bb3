"""Reports benchmark (`make bench`): the reports page and the metrics summary API over one year
of a database of 1,000,000 incidents logged over two years (PostgreSQL, its own database
`itsm_bench_reports`).

Seeds in bulk like bench_api (incident rows with their lifecycle timestamps, services, the
`created` event, and the transition to investigating that MTTR response reads), runs the
metrics rollup job (timed), then asks each URL a few times in this process through Django's
test client with DEBUG off, and prints the server time p50/p99 and the number of queries of
each: the summary API, a timeseries, the reports page and the Prometheus scrape (/metrics).

    .venv/bin/python -m tests.benchmarks.bench_reports [--incidents 1000000] [--repeat 5]
"""

import argparse
import os
import random
import time
from datetime import UTC, datetime, timedelta

from tests.benchmarks import bench_api
from tests.benchmarks._common import (
    markdown_table,
    parse_with_hog,
    percentile_ms,
    reserve_incident_numbers,
    setup_django_in_own_database,
    stop_on_sigterm,
    vacuum_analyze,
)

DATABASE = "itsm_bench_reports"
BATCH_SIZE = 10_000
TWO_YEARS = timedelta(days=730)
MANAGER = "bench-reports-manager"
AIM_MS = 500
METRICS_TOKEN = "bench-reports-scrape-token-0123456789"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="requests per URL")
    return parse_with_hog(parser, argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    os.environ["METRICS_TOKEN"] = METRICS_TOKEN
    setup_django_in_own_database(DATABASE, redis="redis://127.0.0.1:6379/0")
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", interactive=False, verbosity=0)
    user = bench_api.responder()
    seed(args.incidents, user)
    repair_rollup()
    manager, scraper = signed_in_manager(), Client(HTTP_HOST="127.0.0.1")
    today = datetime.now(UTC).date()
    year = f"from={today - timedelta(days=364)}&to={today}"
    requests = [
        (manager, f"/api/metrics/summary/?{year}", {}),
        (manager, f"/api/metrics/timeseries/?metric=mtta&{year}", {}),
        (manager, f"/reports/?{year}", {}),
        (scraper, "/metrics", {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}"}),
    ]
    rows = [measure(client, url, args.repeat, **headers) for client, url, headers in requests]
    print(markdown_table(["request", "p50 ms", "p99 ms", "queries", f"under {AIM_MS} ms"], rows))
    return 0


def seed(target: int, user) -> None:
    from incidents.models import Incident, IncidentEvent
    from incidents.services import priority_for

    missing = target - Incident.objects.count()
    if missing <= 0:
        print(f"Database already holds {target:,} incidents or more; not seeding.")
        return
    print(f"Seeding {missing:,} incidents over two years…", flush=True)
    started = time.monotonic()
    team, services = bench_api.seed_catalogue()
    matrix = {(i, u): priority_for(i, u) for i in (1, 2, 3) for u in (1, 2, 3)}
    rng = random.Random(13)
    for done in range(0, missing, BATCH_SIZE):
        _seed_batch(min(BATCH_SIZE, missing - done), matrix, user, team, services, rng)
    vacuum_analyze(Incident, IncidentEvent, Incident.services.through)
    print(f"Seeded in {time.monotonic() - started:.0f} s.", flush=True)


def repair_rollup() -> None:
    """The hourly rollup job (docs/metrics.md), timed: on a freshly seeded database (bulk
    inserts write no rollup row) it backfills every incident. Skipped when every incident has
    its row (a later run on the same database)."""
    from incidents.models import Incident
    from postmortems.models import IncidentRollup
    from postmortems.tasks import repair_metrics_rollup

    if IncidentRollup.objects.count() >= Incident.objects.count():
        print("Every incident has its rollup row; the rollup job is not run.", flush=True)
        return
    started = time.monotonic()
    count = repair_metrics_rollup()
    print(f"Rollup job: {count:,} incidents in {time.monotonic() - started:.1f} s.", flush=True)
    vacuum_analyze(IncidentRollup)


def _fields(number, matrix, rng, *, user, team) -> dict:
    """bench_api's incident (logged within the last year), moved back by up to a year more."""
    fields = bench_api._incident_fields(number, matrix, rng, user=user, team=team)
    back = timedelta(minutes=rng.randrange(int(TWO_YEARS.total_seconds() // 120)))
    return {k: v - back if isinstance(v, datetime) else v for k, v in fields.items()}


def _seed_batch(size, matrix, user, team, services, rng) -> None:
    from django.db import transaction

    from incidents.models import Incident, IncidentEvent

    with transaction.atomic():
        incidents = Incident.objects.bulk_create(
            Incident(**_fields(number, matrix, rng, user=user, team=team))
            for number in reserve_incident_numbers(size)
        )
        links = [(i, rng.sample(services, rng.choice((0, 1, 1, 1, 2)))) for i in incidents]
        Incident.services.through.objects.bulk_create(
            Incident.services.through(incident_id=incident.pk, service_id=service.pk)
            for incident, chosen in links
            for service in chosen
        )
        events = [
            IncidentEvent(**bench_api._created_event_fields(incident, chosen), actor=user)
            for incident, chosen in links
        ]
        events += [
            IncidentEvent(
                incident=incident,
                type="transition",
                source="api",
                at=incident.acknowledged_at + timedelta(minutes=5),
                summary="Investigating",
                data={"transition": "start", "from": "acknowledged", "to": "investigating"},
                actor=user,
            )
            for incident, _ in links
            if incident.acknowledged_at is not None
        ]
        IncidentEvent.objects.bulk_create(events)


def signed_in_manager():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from itsm.roles import Role

    user, _ = get_user_model().objects.get_or_create(username=MANAGER)
    user.groups.add(Group.objects.get(name=Role.ITSM_MANAGER))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def measure(client, url: str, repeat: int, **headers) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seconds, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, **headers)
            seconds.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code}")
        queries = len(captured)
    p50 = percentile_ms(seconds, 50)
    return [
        f"GET {url.split('?')[0]}",
        f"{p50:.0f}",
        f"{percentile_ms(seconds, 99):.0f}",
        str(queries),
        "yes" if p50 < AIM_MS else "no",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
