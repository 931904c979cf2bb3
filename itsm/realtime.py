"""Live pushes to open pages. Every write publishes here after its transaction commits."""

import asyncio
import json
import logging
from collections.abc import Sequence

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

logger = logging.getLogger(__name__)


def group_name(*parts: str) -> str:
    """A channel-layer group name from parts (only ASCII letters, digits, '-', '_', '.')."""
    return ".".join(str(p) for p in parts)


def publish(group: str | Sequence[str], event: dict) -> None:
    """Send `event` to every page whose consumer is in `group` (or in each of several groups,
    in one trip to the channel layer)."""
    # Encoded once here, not once per open page: a consumer sends the text as it is.
    send(group, {"type": "realtime.event", "text": json.dumps(event, cls=DjangoJSONEncoder)})


def send(group: str | Sequence[str], message: dict) -> None:
    """Send a channel-layer `message` (its `type` names the consumers' handler) to every
    consumer in `group`, or in each of several groups. A failure is logged, never raised: a
    write that committed must not look failed because a live page could not be told."""
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [group] if isinstance(group, str) else list(group)
    try:
        async_to_sync(_send_all)(layer, groups, message)
    except Exception:
        logger.exception("realtime publish to %s failed", ", ".join(groups))


async def _send_all(layer, groups: list[str], message: dict) -> None:
    await asyncio.gather(*(layer.group_send(g, message) for g in groups))
