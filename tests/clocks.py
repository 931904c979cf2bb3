"""Several clocks ticking at once (PostgreSQL), as several worker processes' clocks would."""

import threading

from django.db import connections

from incidents import clock

JOIN_TIMEOUT = 60


def _tick_repeatedly(job: str, ticks: int, batch: int, start, fired: list, errors: list):
    """One clock: its own database connection, ticking in small batches as fast as it can."""
    try:
        start.wait()
        for _ in range(ticks):
            fired.append(clock.tick(batch=batch)[job])
    except BaseException as exc:
        errors.append(exc)
    finally:
        connections.close_all()


def two_clocks_at_once(job: str, *, ticks: int, batch: int) -> tuple[list[int], list]:
    """Two clocks released together. What each tick did of `job` (one of the counts
    `clock.tick` returns), and the errors the clocks hit."""
    start = threading.Barrier(2)
    fired: list[int] = []
    errors: list[BaseException] = []
    args = (job, ticks, batch, start, fired, errors)
    clocks = [threading.Thread(target=_tick_repeatedly, args=args) for _ in range(2)]
    for thread in clocks:
        thread.start()
    for thread in clocks:
        thread.join(timeout=JOIN_TIMEOUT)
    return fired, errors
