"""Live pushes to open pages. Every write publishes here after its transaction commits."""

import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

logger = logging.getLogger(__name__)


def group_name(*parts: str) -> str:
    """A channel-layer group name from parts (only ASCII letters, digits, '-', '_', '.')."""
    return ".".join(str(p) for p in parts)


def publish(group: str, event: dict) -> None:
    """Send `event` to every consumer in `group`. A failure is logged, never raised: a write
    that committed must not look failed because a live page could not be told."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": "realtime.event",
        "event": json.loads(json.dumps(event, cls=DjangoJSONEncoder)),
    }
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("realtime publish to %s failed", group)
