"""Work that each change of a batch would repeat, done once for the whole batch, still in its
transaction. A caller that applies many changes in one transaction (the alert drain:
incidents/alerts/drain.py) wraps them in `batched()`; a receiver that would otherwise repeat
an expensive step per change (the metrics rollup: postmortems/receivers.py) hands its items to
`once_per_batch`, which runs the step at once outside a batch, and at the batch's end within
one, for every item the batch collected."""

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterable, Iterator

from django.db import transaction

logger = logging.getLogger(__name__)

_pending: contextvars.ContextVar[dict | None] = contextvars.ContextVar("batch", default=None)


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Collect `once_per_batch` items until the block ends, then run each step once, each in
    a savepoint (`_run_guarded`): a step that fails is logged and undone, and the batch's
    changes stand (a step is derived data its own repair job recomputes, never the change
    itself). An
    exception in the block runs nothing (its transaction rolls back); a nested batch is the
    outer one's."""
    if _pending.get() is not None:
        yield
        return
    pending: dict[Callable, set] = {}
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    for step, items in pending.items():
        _run_guarded(step, items)


def _run_guarded(step: Callable[[set], object], items: set) -> None:
    """`step(items)` in a savepoint: a failure is logged and undone, the change stands."""
    try:
        with transaction.atomic():
            step(items)
    except Exception:
        logger.exception("%s failed for a batch of %d", step.__qualname__, len(items))


def once_per_batch(step: Callable[[set], object], items: Iterable) -> None:
    """`step(items)` now, or once at the end of the current batch with every item the batch
    handed to it; guarded either way (a failing step never undoes the change it follows)."""
    pending = _pending.get()
    if pending is None:
        _run_guarded(step, set(items))
    else:
        pending.setdefault(step, set()).update(items)
