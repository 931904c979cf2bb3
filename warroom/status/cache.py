"""The public status page's cache (docs/status-page.md, "Caching").

Every visitor gets the same page, JSON and feeds, so each answer is kept, gzipped, in the
`status` cache under the page's **version**: a random token that every committed write of
something the public sees replaces. Model signals find those writes wherever they come from
(the services, the admin, a deleted incident's cascade), and the version is replaced once the
writing transaction commits. A reader reads the version before the rows, so an answer built
from rows older than a write is stored under a version that write has already replaced, and is
never served. Until it commits, the writing transaction itself reads around the cache (it sees
rows nobody else does yet).

Bulk writes (`bulk_create`, `update`) send no signals: call `invalidate()` after them.

Time moves the page too (the 14 days of history, the uptime bars and their percentages): its
answers are keyed by the minute as well. The JSON and the feeds do not depend on the time.
Every answer also expires after ANSWER_TTL seconds, a safety net that bounds how long a
version lost to Redis, or an answer of code replaced by a deploy, can be served.

What a new version costs is kept down by values kept apart, each keyed by what it derives
from, so that they need no invalidation of their own (`fragments`, `computed`): the HTML of
each incident, keyed by its latest update, the components' **namespace** (a token replaced
when a component changes: its name shows in every update that named it) and the template's
text; the uptime of resolved incidents (warroom.status.selectors.resolved_windows).
"""

import gzip
import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from functools import partial, wraps

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpResponse
from django.template.loader import get_template
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.text import compress_string
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
CACHE_ERRORS = (RedisError, OSError)

CACHE = "status"
VERSION = "version"
NAMESPACE = "namespace"
ANSWER_TTL = 60
# Fragments and computed values are keyed by what they derive from: the TTL only frees memory.
DERIVED_TTL = 24 * 60 * 60
# Browsers and shared caches (a CDN) may reuse an answer this long before asking again; asking
# again, they get 304 Not Modified while its ETag holds.
BROWSER_MAX_AGE = 10
ACCEPTS_GZIP = re.compile(r"\bgzip\b")


_shared: dict[int, tuple[dict, BaseCache]] = {}


def _cache() -> BaseCache:
    """One cache object per process (per CACHES setting, which tests change; each is held, so
    that its id is never another's). Django's `caches[...]` makes one per async context, and
    under ASGI each request is one: a new Redis connection for every request."""
    config = settings.CACHES[CACHE]
    if id(config) not in _shared:
        _shared[id(config)] = (config, caches.create_connection(CACHE))
    return _shared[id(config)][1]


# --- versions ------------------------------------------------------------------------------------


def _bump(*, components: bool) -> None:
    keys = [VERSION, NAMESPACE] if components else [VERSION]
    _cache().set_many({key: secrets.token_hex(8) for key in keys}, timeout=None)


def forget_all() -> None:
    """Nothing cached so far is served again (tests start with this)."""
    _cache().delete_many([VERSION, NAMESPACE])


def _current(values: dict, key: str) -> str:
    """The token `key` holds; a fresh one when it has none (first use, or evicted)."""
    if values.get(key):
        return values[key]
    fresh = secrets.token_hex(8)
    _cache().add(key, fresh, timeout=None)
    return _cache().get(key) or fresh


def _namespace() -> str:
    return _current(_cache().get_many([NAMESPACE]), NAMESPACE)


@dataclass
class _Pending:
    """The public writes of one transaction, not committed yet."""

    block: object  # the transaction's outermost atomic block
    components: bool = False
    done: bool = False


_local = threading.local()


def changed(*, components: bool = False) -> None:
    """Something the public sees was written: a new version once the transaction commits (at
    once outside one). `components`: a component changed, so incidents render anew too."""
    if not connection.in_atomic_block:
        _committed(_Pending(block=None, components=components))
        return
    pending = _pending()
    if pending is None:
        pending = _local.pending = _Pending(block=connection.atomic_blocks[0])
    pending.components |= components
    # One callback per write: a savepoint rolled back drops the callbacks it registered, and
    # whichever survives runs first and bumps once.
    transaction.on_commit(_after_commit(pending), robust=True)


def _after_commit(pending: _Pending):
    """A named callback: Django logs a robust callback's failure by its `__qualname__`, which
    a functools.partial lacks (the log line itself would raise)."""

    def bump_status_cache():
        _committed(pending)

    return bump_status_cache


def invalidate() -> None:
    """After a bulk write that sent no signal."""
    changed(components=True)


def _committed(pending: _Pending) -> None:
    """A failure is logged, not raised: the write stands, and the answers kept before it are
    served at most ANSWER_TTL more."""
    if pending.done:
        return
    pending.done = True
    try:
        _bump(components=pending.components)
    except CACHE_ERRORS:
        log.exception("Status cache unreachable: the public answers are stale until they expire")


def _pending() -> _Pending | None:
    """This transaction's public writes not yet committed, if any. (A request's thread that
    has written nothing does not touch `connection`: making its wrapper costs 0.05 ms.)"""
    pending = getattr(_local, "pending", None)
    if pending is None or pending.done or not connection.in_atomic_block:
        return None
    return pending if pending.block is connection.atomic_blocks[0] else None


def _on_public_write(sender, **kwargs) -> None:
    changed()


def _on_component_write(sender, **kwargs) -> None:
    changed(components=True)


def connect() -> None:
    """Every model the public reads, whoever writes it (AppConfig.ready)."""
    from warroom.models import (
        AffectedComponent,
        ComponentGroup,
        Maintenance,
        MaintenanceUpdate,
        StatusComponent,
        StatusImpact,
        StatusIncident,
        StatusUpdate,
    )

    public = (
        ComponentGroup,
        StatusIncident,
        StatusUpdate,
        AffectedComponent,
        StatusImpact,
        Maintenance,
        MaintenanceUpdate,
    )
    for model in public:
        uid = f"status-cache-{model.__name__}"
        for signal in (post_save, post_delete):
            signal.connect(_on_public_write, sender=model, dispatch_uid=uid)
    for signal in (post_save, post_delete):
        signal.connect(_on_component_write, sender=StatusComponent, dispatch_uid="status-cache")
    m2m_changed.connect(
        _on_public_write, sender=Maintenance.components.through, dispatch_uid="status-cache"
    )


# --- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    version: str
    etag: str
    gzipped: bytes
    headers: tuple[tuple[str, str], ...]  # those the view set (Content-Type, CORS)


# When a new version comes during a traffic spike, every request in flight would build the
# answer. One thread per process builds it (the others wait on this lock), and one process:
# the others wait for the answer to appear, up to BUILD_SECONDS, then build it themselves.
_flights: dict[str, threading.Lock] = {}
BUILD_SECONDS = 5
POLL_SECONDS = 0.02


def answer_key(name: str, *, per_minute: bool = False, origin: str = "") -> str:
    minute = f"{timezone.now():%Y%m%d%H%M}" if per_minute else ""
    return f"answer:{name}:{minute}:{origin}"


def cached(name: str, *, per_minute: bool = False, per_origin: bool = False):
    """Serve a public GET view from the cache: its 200 is kept under the current version,
    gzipped, with an ETag (its body's digest) for conditional requests. Other methods and
    other answers are the view's own. `per_minute`: the answer changes with the clock;
    `per_origin`: with the scheme and host asked (the feeds' absolute links)."""

    def decorate(view):
        @wraps(view)
        def answer(request, *args, **kwargs):
            if request.method != "GET":
                return view(request, *args, **kwargs)
            build = partial(view, request, *args, **kwargs)
            if _pending() is not None:  # this transaction's writes are in no answer yet
                found = _answer(build())
            else:
                origin = f"{request.scheme}://{request.get_host()}" if per_origin else ""
                key = answer_key(name, per_minute=per_minute, origin=origin)
                found = _kept_or_built_or_fresh(key, name, build)
            return _respond(request, found) if isinstance(found, Answer) else found

        return answer

    return decorate


def _kept_or_built_or_fresh(key: str, name: str, build) -> Answer | HttpResponse:
    """From the cache; built afresh, uncached, when the cache cannot be reached: the public
    page must stay up, only slower, while Redis is down."""
    try:
        return _kept_or_built(key, name, build)
    except CACHE_ERRORS:
        log.warning("Status cache unreachable; %s built without it", name, exc_info=True)
    _local.down = True
    try:
        return _answer(build())
    finally:
        _local.down = False


def _kept_or_built(key: str, name: str, build) -> Answer | HttpResponse:
    stored, _ = _lookup(key)
    if stored is not None:
        return stored
    with _flights.setdefault(name, threading.Lock()):
        stored, version = _built_elsewhere(key)
        if stored is not None:
            return stored
        built = _answer(build(), version=version)
        if isinstance(built, Answer):
            _cache().set(key, built, timeout=ANSWER_TTL)
        return built


def _lookup(key: str) -> tuple[Answer | None, str]:
    """The answer kept for the current version, if any, and that version: one round trip."""
    values = _cache().get_many([VERSION, key])
    version, stored = _current(values, VERSION), values.get(key)
    return (stored if stored is not None and stored.version == version else None), version


def _built_elsewhere(key: str) -> tuple[Answer | None, str]:
    """The current version's answer, once another process has built it; no answer when this
    process is to build it (nobody else is, or they took too long)."""
    deadline = time.monotonic() + BUILD_SECONDS
    while True:
        stored, version = _lookup(key)
        if stored is not None:
            return stored, version
        building = f"building:{key}:{version}"
        if time.monotonic() > deadline or _cache().add(building, 1, timeout=BUILD_SECONDS):
            return None, version
        time.sleep(POLL_SECONDS)


def _answer(response: HttpResponse, *, version: str = "") -> Answer | HttpResponse:
    """The view's 200 as it is kept; any other answer as it is, never kept."""
    if response.status_code != 200:
        return response
    body = response.content
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    return Answer(
        version=version,
        etag=f'W/"{digest}"',  # weak: the same for the gzipped and the plain body
        gzipped=compress_string(body),
        headers=tuple(response.items()),
    )


def _respond(request, stored: Answer) -> HttpResponse:
    gzipped = bool(ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))
    response = HttpResponse(stored.gzipped if gzipped else gzip.decompress(stored.gzipped))
    for header, value in stored.headers:
        response[header] = value
    if gzipped:
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ["Accept-Encoding"])
    response["ETag"] = stored.etag
    response["Cache-Control"] = f"public, max-age={BROWSER_MAX_AGE}"
    return get_conditional_response(request, etag=stored.etag, response=response)


# --- fragments -----------------------------------------------------------------------------------


def _bypassed() -> bool:
    """This transaction's writes are in nothing cached yet, or the cache is unreachable."""
    return _pending() is not None or getattr(_local, "down", False)


def fragments(template: str, stamps: dict, render) -> dict:
    """The HTML of `template` for each id in `stamps` (id → its last change): kept ones from the
    cache, the others from `render(ids)` (id → HTML; an id gone meanwhile is left out), then
    kept."""
    if _bypassed():
        return render(list(stamps))
    digest = hashlib.blake2b(
        get_template(template).template.source.encode(), digest_size=6
    ).hexdigest()
    prefix = f"fragment:{_namespace()}:{digest}"
    keys = {pk: f"{prefix}:{pk}:{stamp}" for pk, stamp in stamps.items()}
    found = _cache().get_many(list(keys.values()))
    html = {pk: found[key] for pk, key in keys.items() if key in found}
    missing = [pk for pk in stamps if pk not in html]
    if missing:
        rendered = render(missing)
        _cache().set_many({keys[pk]: rendered[pk] for pk in rendered}, timeout=DERIVED_TTL)
        html.update(rendered)
    return html


def computed(key: str, compute):
    """`compute()`, kept under `key`, which must name everything the value depends on."""
    if _bypassed():
        return compute()
    key = f"computed:{_namespace()}:{key}"
    value = _cache().get(key)
    if value is None:
        value = compute()
        _cache().set(key, value, timeout=DERIVED_TTL)
    return value
