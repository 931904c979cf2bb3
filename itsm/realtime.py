"""Live pushes to open pages. Every write publishes here after its transaction commits.

Every message to a group is numbered: it carries `stream` (the group) and `seq` (1, 2, 3… per
group), counted in Redis beside the channel layer before the send. A send that fails has still
used its number, so the group's next message, or the position a page's ping is answered with
(`positions`), shows the page the gap, and the page catches up from the database
(docs/live-pages.md, "Nothing missed"). One that could not be numbered (Redis unreachable) is
kept and sent, late, before this process's next publish. A command that meets a dead
connection (Redis restarted since the pool opened it) is tried again, on a fresh connection,
after a short pause.
"""

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.core.serializers.json import DjangoJSONEncoder
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Seconds before each further try of a command whose connection failed (on top of the
# layer's own retries, settings.CHANNEL_REDIS_OPTIONS): while Redis is down, a publish gives
# up within about a second.
RETRY_PAUSES = (0.1,)
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
# A group's count outlives its last message by a week. Should it go (or Redis lose it), it
# starts again above where it was (_count_start), and open pages see a gap.
SEQ_TTL_SECONDS = 7 * 24 * 3600
# The counts of a layer without Redis (the in-memory one, which serves one process only).
_local_seqs: defaultdict[str, int] = defaultdict(int)


def group_name(*parts: str) -> str:
    """A channel-layer group name from parts (only ASCII letters, digits, '-', '_', '.')."""
    return ".".join(str(p) for p in parts)


def publish(group: str | Sequence[str], event: dict) -> None:
    """Send `event` to every page whose consumer is in `group` (or in each of several groups),
    numbered in each."""

    # Encoded here, once per group, not once per open page: a consumer sends the text as it is.
    def numbered_event(stream: str, seq: int) -> dict:
        text = json.dumps({**event, "stream": stream, "seq": seq}, cls=DjangoJSONEncoder)
        return {"type": "realtime.event", "text": text}

    _deliver(group, numbered_event)


def send(group: str | Sequence[str], message: dict) -> None:
    """Send a channel-layer `message` (its `type` names the consumers' handler) to every
    consumer in `group`, or in each of several groups, numbered in each. A failure is logged,
    never raised: a write that committed must not look failed because a live page could not
    be told."""
    _deliver(group, lambda stream, seq: {**message, "stream": stream, "seq": seq})


def _deliver(group: str | Sequence[str], build: Callable[[str, int], dict]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [group] if isinstance(group, str) else list(group)
    _send_unsent(layer)
    if not _sent(layer, (groups, build)):
        _unsent.append((groups, build))


# Publishes that could not even be numbered (Redis unreachable from this process): no page can
# see a gap for them, so this process sends them, late, before its next publish.
UNSENT_KEPT = 1000
_unsent: deque[tuple[list[str], Callable[[str, int], dict]]] = deque(maxlen=UNSENT_KEPT)


def _send_unsent(layer) -> None:
    """Send what earlier publishes of this process could not, oldest first, until one fails
    (it goes back to the front). Each is taken by one thread only."""
    while True:
        try:
            publish_ = _unsent.popleft()
        except IndexError:
            return
        if not _sent(layer, publish_):
            _unsent.appendleft(publish_)
            return


def _sent(layer, publish_: tuple[list[str], Callable[[str, int], dict]]) -> bool:
    """False when the publish could not be numbered (to be kept); a send that failed once
    numbered is only logged: its number is a gap the pages see."""
    groups, build = publish_
    try:
        async_to_sync(_number_and_send)(layer, groups, build)
    except NotNumbered:
        logger.exception("realtime publish to %s not numbered; kept for later", ", ".join(groups))
        return False
    except Exception:
        logger.exception("realtime publish to %s failed", ", ".join(groups))
    return True


class NotNumbered(Exception):
    """A publish whose groups could not be counted (Redis unreachable)."""


async def _number_and_send(layer, groups: list[str], build: Callable[[str, int], dict]) -> None:
    """Number first: a send that then fails leaves a gap that pages notice."""
    try:
        seqs = [await retrying(layer, lambda g=g: _next_seq(layer, g)) for g in groups]
    except Exception as error:
        raise NotNumbered from error
    await asyncio.gather(
        *(
            retrying(layer, lambda g=g, n=n: layer.group_send(g, build(g, n)))
            for g, n in zip(groups, seqs, strict=True)
        )
    )


async def positions(groups: Sequence[str]) -> dict[str, int]:
    """Each group's latest number (0 before its first message)."""
    layer = get_channel_layer()
    return {group: await retrying(layer, lambda g=group: _position(layer, g)) for group in groups}


async def retrying(layer, attempt: Callable[[], Awaitable]):
    """`attempt()`, tried again on a fresh connection after a short pause when its connection
    fails: a pooled connection may have died with a Redis restart since it was last used."""
    for pause in RETRY_PAUSES:
        try:
            return await attempt()
        except CONNECTION_ERRORS as error:
            logger.warning("channel layer: %s; trying again on a fresh connection", error)
            await _drop_idle_connections(layer)
            await asyncio.sleep(pause)
    return await attempt()


def _redis(layer, group: str):
    """The Redis client of the layer's shard that holds `group`; None for a layer without
    Redis."""
    if not isinstance(layer, RedisChannelLayer):
        return None
    return layer.connection(layer.consistent_hash(group))


def _seq_key(layer, group: str) -> str:
    return f"{layer.prefix}:seq:{group}"


async def _next_seq(layer, group: str) -> int:
    redis = _redis(layer, group)
    if redis is None:
        _local_seqs[group] += 1
        return _local_seqs[group]
    key = _seq_key(layer, group)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, _count_start(), nx=True)
        _, seq, _ = await pipe.incr(key).expire(key, SEQ_TTL_SECONDS).execute()
    return seq


def _count_start() -> int:
    """Where a group's count starts when Redis has none (its first message, a Redis that
    restarted without its data, a week without a message): the time in milliseconds, above
    any count the group had before, so an open page sees a jump (a gap: it resyncs) instead of
    numbers it believes it has and would drop."""
    return int(time.time() * 1000)


async def _position(layer, group: str) -> int:
    redis = _redis(layer, group)
    if redis is None:
        return _local_seqs[group]
    return int(await redis.get(_seq_key(layer, group)) or 0)


async def _drop_idle_connections(layer) -> None:
    """Close the pooled connections nobody is using (a consumer's blocking receive keeps
    its own), so that the next command opens a fresh one."""
    if not isinstance(layer, RedisChannelLayer):
        return
    for index in range(layer.ring_size):
        await layer.connection(index).connection_pool.disconnect(inuse_connections=False)


# What waits to run, by key, in this process: one per key at a time (`coalesced`).
_coalescing: dict[str, asyncio.Task] = {}


def coalesced(key: str, delay: float, work: Callable[[], Awaitable]) -> None:
    """Run `work()` `delay` seconds from now, once however often this is called for `key`
    meanwhile: a burst of changes makes one message, which says what is true by then. Called
    in the event loop."""
    task = _coalescing.get(key)
    if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
        return
    _coalescing[key] = asyncio.ensure_future(_after(delay, key, work))


async def _after(delay: float, key: str, work: Callable[[], Awaitable]) -> None:
    try:
        await asyncio.sleep(delay)
    finally:
        # Before the work: a change made while it reads waits for the next run.
        _coalescing.pop(key, None)
    try:
        await work()
    except Exception:
        logger.exception("coalesced %s failed", key)
