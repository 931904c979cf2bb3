"""Liveness and readiness probes for load balancers, orchestrators and monitoring."""

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from itsm.redaction import scrub

CHANNEL_LAYER_TIMEOUT = 2.0
# The SLA and escalation clock (in `manage.py qworker`) writes this key every tick, at least
# once a second; it expires unless renewed.
CLOCK_HEARTBEAT_KEY = "itsm:clock:heartbeat"
CLOCK_HEARTBEAT_TIMEOUT = 10


def _describe(exc: Exception) -> str:
    """A failed check's reason, as this unauthenticated endpoint may show it: no secrets."""
    return scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


@require_GET
@never_cache
def live(request):
    """The process answers; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return _describe(exc)
    return None


async def _round_trip(layer) -> None:
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), CHANNEL_LAYER_TIMEOUT)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned a different message")


def _check_channel_layer() -> str | None:
    layer = get_channel_layer()
    if layer is None:
        return "no channel layer configured"
    try:
        async_to_sync(_round_trip)(layer)
    except Exception as exc:
        return _describe(exc)
    return None


def _check_worker() -> str | None:
    """The django-q2 cluster saves its status to the shared cache every second or so, with a
    few seconds' expiry: no status means no worker is alive."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    try:
        stats = Stat.get_all(broker=get_broker())
    except Exception as exc:
        return _describe(exc)
    if not stats:
        return "no worker cluster has reported in the last few seconds"
    return None


def _check_clock() -> str | None:
    """The clock's heartbeat expires ten seconds after its last tick."""
    try:
        beat = cache.get(CLOCK_HEARTBEAT_KEY)
    except Exception as exc:
        return _describe(exc)
    if beat is None:
        return f"no clock has ticked in the last {CLOCK_HEARTBEAT_TIMEOUT} seconds"
    return None


# Without its database a web process can serve nothing; without the others it still serves the
# portal, degraded (no live updates, no notifications, no deadlines firing).
ESSENTIAL_CHECKS = {"database"}
STRICT_VALUES = {"1": True, "true": True, "0": False, "false": False}


def _run_checks() -> dict[str, str | None]:
    """Each check's problem, None when it passed."""
    checks = {
        "database": _check_database(),
        "channel_layer": _check_channel_layer(),
    }
    if settings.WORKER_HEARTBEAT_REQUIRED:
        checks["worker"] = _check_worker()
        checks["clock"] = _check_clock()
    return checks


def _overall_status(down: set[str]) -> str:
    if down & ESSENTIAL_CHECKS:
        return "unavailable"
    return "degraded" if down else "ok"


@require_GET
@never_cache
def ready(request):
    """200 while the database answers, whatever else is down (status "degraded" then names it);
    with ?strict=1, 503 when any check fails. 503 always when the database is down."""
    strict = STRICT_VALUES.get(request.GET.get("strict", "0").lower())
    if strict is None:
        return JsonResponse({"detail": "strict must be 1 or 0."}, status=400)
    checks = _run_checks()
    down = {name for name, problem in checks.items() if problem}
    status = _overall_status(down)
    body = {
        "status": status,
        "checks": {
            name: f"down: {problem}" if problem else "ok" for name, problem in checks.items()
        },
    }
    if down:
        body["down"] = sorted(down)
    failed = status == "unavailable" or (strict and down)
    return JsonResponse(body, status=503 if failed else 200)
