"""Start-up checks (Django's system checks) of the deployment as a whole."""

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import DatabaseError, connections

# Besides its worker processes, a django-q2 cluster runs a sentinel, a guard, a pusher and a
# monitor, each with a connection of its own.
CLUSTER_OVERHEAD = 4
# qworker --clock-loops's default: threads of the worker's main process, a connection each
# (the worker has no pool; see settings._use_connection_pool).
CLOCK_LOOPS = 1


def connections_needed(budget: dict, worker_processes: int) -> dict[str, int]:
    """The most connections each kind of process holds at once, all of its kind together. A
    worker (`manage.py qworker`) is its cluster and, in its main process, the clock."""
    per_web = budget["pool_max"] if budget["pool"] else 1
    per_worker = worker_processes + CLUSTER_OVERHEAD + CLOCK_LOOPS
    return {
        "web": budget["web_processes"] * per_web,
        "worker": budget["worker_clusters"] * per_worker,
    }


def _max_connections(alias: str) -> int | None:
    """PostgreSQL's max_connections; None on another database, or when it does not answer."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_connections")
            return int(cursor.fetchone()[0])
    except DatabaseError:
        return None


@register(Tags.database)
def check_connection_budget(app_configs=None, databases=None, **kwargs):
    """Warn when the deployment's processes may open more connections than PostgreSQL takes."""
    if not databases or "default" not in databases or settings.DATABASE_PGBOUNCER:
        return []  # behind PgBouncer, its pool size bounds the server's connections
    limit = _max_connections("default")
    if limit is None:
        return []
    budget = settings.DATABASE_BUDGET
    needed = connections_needed(budget, settings.Q_CLUSTER["workers"])
    room = limit - budget["margin"]
    if sum(needed.values()) <= room:
        return []
    parts = ", ".join(f"{kind} {count}" for kind, count in needed.items())
    return [
        Warning(
            f"The portal's processes may hold {sum(needed.values())} database connections "
            f"({parts}), more than PostgreSQL's max_connections ({limit}) less a margin of "
            f"{budget['margin']}: requests will fail with 'too many clients' under load.",
            hint="Lower DATABASE_POOL_MAX, run fewer processes, raise max_connections, or put "
            "PgBouncer in transaction mode in front of PostgreSQL (docs/operations.md, "
            "Connection budget). WEB_PROCESSES and WORKER_CLUSTERS say how many "
            "processes run in all.",
            id="itsm.W001",
        )
    ]


@register()
def check_notification_lease(app_configs=None, **kwargs):
    """A lease shorter than a send sends messages twice (the clock takes the slow worker for
    dead); the same Message-ID keeps a resent email one message, but not a chat post."""
    slowest = max(settings.EMAIL_TIMEOUT, settings.CHAT_TIMEOUT)
    lease = settings.NOTIFICATION_LEASE
    if lease >= 2 * slowest:
        return []
    return [
        Warning(
            f"NOTIFICATION_LEASE ({lease} s) is less than twice the "
            f"slowest send's timeout ({slowest} s): a slow send may be made twice.",
            hint="Raise NOTIFICATION_LEASE or lower EMAIL_TIMEOUT and CHAT_TIMEOUT.",
            id="itsm.W002",
        )
    ]
