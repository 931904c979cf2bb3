"""/metrics: the portal's own figures for Prometheus, computed from the database at each scrape.

itsm owns the endpoint, its registry and who may read it; each app registers the collector of
the figures it owns from its AppConfig.ready() (`register_collector`), as the clock's work is
registered, so itsm imports no domain model. A collector reads with a fixed number of aggregate
queries, whatever the data size. The registry is the portal's own: nothing registered in
prometheus_client's global one (process figures, a library's) is exposed.
"""

import hmac
import ipaddress
from datetime import timedelta
from itertools import product

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from itsm.api import throttle
from itsm.choices import NotificationChannel, NotificationStatus
from itsm.clients import client_address
from itsm.models import Notification

REGISTRY = CollectorRegistry()
# Response times in seconds: 1, 3, 5, 15, 30 and 45 minutes, 1, 2 and 4 hours, a day (the
# reference's targets are 3, 5 and 45 minutes).
DURATION_BUCKETS = (60, 180, 300, 900, 1800, 2700, 3600, 7200, 14400, 86400)


def register_collector(collector) -> None:
    """Expose `collector`'s families (an object with `collect()`) at /metrics."""
    REGISTRY.register(collector)


# --- building families ---------------------------------------------------------------------------


def grouped_counts(rows, *fields: str, value: str = "n") -> dict[tuple, int]:
    """`values(*fields).annotate(n=…)` rows as {(field values…): n}."""
    return {tuple(row[field] for field in fields): row[value] for row in rows}


def labelled(family, counts: dict[tuple, float], *choices):
    """`family` with a sample for every combination of `choices` (lists of label values),
    zero where `counts` has none, so a series exists before its first event."""
    for values in sorted(set(product(*choices)) | set(counts)):
        family.add_metric(list(values), counts.get(values, 0))
    return family


def counted_family(kind, name: str, documentation: str, queryset, labels: dict[str, str], *choices):
    """A family of `kind` (GaugeMetricFamily, or a counter's): `queryset`'s rows counted
    in one GROUP BY query; `labels` maps each label to the field it groups by; see `labelled`."""
    fields = list(labels.values())
    rows = queryset.order_by().values(*fields).annotate(n=Count("pk"))
    family = kind(name, documentation, labels=list(labels))
    return labelled(family, grouped_counts(rows, *fields), *choices)


def histogram_aggregates(alias: str, buckets=DURATION_BUCKETS) -> dict:
    """Aggregates of the duration annotated as `alias` (null where it does not apply): a
    cumulative count per bucket, the count and the sum; for `histogram_family`."""
    aggregates = {
        f"{alias}_le_{bound}": Count(alias, filter=Q(**{f"{alias}__lte": timedelta(seconds=bound)}))
        for bound in buckets
    }
    return aggregates | {f"{alias}_count": Count(alias), f"{alias}_sum": Sum(alias)}


def histogram_family(
    name: str, documentation: str, result: dict, alias: str, buckets=DURATION_BUCKETS
) -> HistogramMetricFamily:
    """The histogram of `histogram_aggregates(alias)`'s result, in seconds."""
    total = result[f"{alias}_sum"] or timedelta(0)
    return HistogramMetricFamily(
        name,
        documentation,
        buckets=[(floatToGoString(bound), result[f"{alias}_le_{bound}"]) for bound in buckets]
        + [("+Inf", result[f"{alias}_count"])],
        sum_value=total.total_seconds(),
    )


# --- itsm's own figures ---------------------------------------------------------------------------


class NotificationCollector:
    """Messages by channel: sent and failed, and pending. One query. Gauges, not counters: a
    failed message retried from the admin goes back to pending, and old ones are deleted."""

    def collect(self):
        rows = Notification.objects.order_by().values("channel", "status").annotate(n=Count("pk"))
        counts = grouped_counts(rows, "channel", "status")
        channels = NotificationChannel.values
        yield labelled(
            GaugeMetricFamily(
                "itsm_notifications",
                "Notifications that reached an outcome (sent, failed for good), by channel.",
                labels=["channel", "outcome"],
            ),
            {key: n for key, n in counts.items() if key[1] != NotificationStatus.PENDING},
            channels,
            [NotificationStatus.SENT, NotificationStatus.FAILED],
        )
        yield labelled(
            GaugeMetricFamily(
                "itsm_notifications_pending",
                "Notifications not yet sent (queued, or waiting for a retry), by channel.",
                labels=["channel"],
            ),
            {
                (channel,): n
                for (channel, status), n in counts.items()
                if status == NotificationStatus.PENDING
            },
            channels,
        )


# --- the endpoint --------------------------------------------------------------------------------


def _in_allowed_network(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:10.0.0.1 is 10.0.0.1
    return any(ip in network for network in settings.METRICS_ALLOWED_NETWORKS)


def _bearer(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _text(body: str, status: int, **headers) -> HttpResponse:
    return HttpResponse(body + "\n", status=status, content_type="text/plain", headers=headers)


def _refusal(request) -> HttpResponse | None:
    """Why this request may not scrape, as an answer; None when it may. Off (404) until
    METRICS_TOKEN or METRICS_ALLOWED_NETWORKS is set; with both, both must hold."""
    token, networks = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS
    if not (token or networks):
        raise Http404("Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_NETWORKS.")
    address = client_address(request)
    if networks and not _in_allowed_network(address):
        return _text("Your address may not read the metrics.", 403)
    if not token:
        return None
    wait = throttle.seconds_refused(address)
    if wait:
        return _text(
            "Too many failed attempts from your address.", 429, **{"Retry-After": str(wait)}
        )
    if hmac.compare_digest(_bearer(request).encode(), token.encode()):
        return None
    throttle.failure_count(address)
    return _text("A valid bearer token is required.", 401, **{"WWW-Authenticate": "Bearer"})


@require_GET
@never_cache
def metrics(request):
    """The Prometheus text format of every registered collector's families."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
