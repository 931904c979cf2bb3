"""Calls run at the same moment, each in its own thread and so its own database connection:
what the concurrency and locking tests (on PostgreSQL) share."""

import threading
import time

from django.db import connection

JOIN_TIMEOUT = 60


def all_at_once(*calls) -> list:
    """Run each call in its own thread, released together; return what each returned or
    raised, in order. (A thread connects in its call: connecting first would hold twenty of
    the pool's connections at the barrier.)"""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[index] = call()
        except Exception as exc:  # returned to the test, not lost in the thread
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a call hung"
    return outcomes


def all_succeed(*calls) -> list:
    """`all_at_once`, and none of the calls raised: what each returned, in order."""
    outcomes = all_at_once(*calls)
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert not errors, errors
    return outcomes


def eventually(condition, timeout: float = 10) -> bool:
    """Whether `condition()` comes true within `timeout` seconds (polled every 0.02 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
