"""Alert jobs on django-q2 schedules: the received payloads' retention (daily, migration 0016)
deletes the ones older than RECEIVED_PAYLOAD_DAYS, in batches so no statement holds the table
long; the groups no payload named for their integration's `resolve_after_minutes` are
resolved (every minute, migration 0018)."""

from datetime import timedelta

from django.utils import timezone

from incidents.alerts import ingest
from incidents.choices import AlertStatus
from incidents.models import RECEIVED_PAYLOAD_DAYS, AlertGroup, Integration, ReceivedPayload

SWEEP_BATCH = 5000


def received_payloads_sweep() -> int:
    """Delete the payloads received more than RECEIVED_PAYLOAD_DAYS days ago; how many."""
    cutoff = timezone.now() - timedelta(days=RECEIVED_PAYLOAD_DAYS)
    old = ReceivedPayload.objects.filter(received_at__lt=cutoff).order_by()
    deleted = 0
    while batch := list(old.values_list("pk", flat=True)[:SWEEP_BATCH]):
        deleted += ReceivedPayload.objects.filter(pk__in=batch).delete()[0]
    return deleted


def alert_groups_expire() -> int:
    """Resolve the firing groups silent for longer than their integration's
    `resolve_after_minutes`, each in its own transaction; how many this run resolved."""
    now = timezone.now()
    expired = 0
    for integration in Integration.objects.filter(resolve_after_minutes__isnull=False):
        cutoff = now - timedelta(minutes=integration.resolve_after_minutes)
        silent = AlertGroup.objects.filter(
            integration=integration, status=AlertStatus.FIRING, last_seen_at__lte=cutoff
        ).values_list("pk", flat=True)
        for group_id in list(silent):
            expired += ingest.alert_group_expire(group_id=group_id, now=now)
    return expired
