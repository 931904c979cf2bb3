"""The received payloads' retention: a daily django-q2 schedule (migration 0016) deletes the
ones older than RECEIVED_PAYLOAD_DAYS, in batches so no statement holds the table long."""

from datetime import timedelta

from django.utils import timezone

from incidents.models import RECEIVED_PAYLOAD_DAYS, ReceivedPayload

SWEEP_BATCH = 5000


def received_payloads_sweep() -> int:
    """Delete the payloads received more than RECEIVED_PAYLOAD_DAYS days ago; how many."""
    cutoff = timezone.now() - timedelta(days=RECEIVED_PAYLOAD_DAYS)
    old = ReceivedPayload.objects.filter(received_at__lt=cutoff).order_by()
    deleted = 0
    while batch := list(old.values_list("pk", flat=True)[:SWEEP_BATCH]):
        deleted += ReceivedPayload.objects.filter(pk__in=batch).delete()[0]
    return deleted
