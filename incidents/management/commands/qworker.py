"""`manage.py qworker`: the worker process. It runs the django-q2 worker cluster (`qcluster`),
which carries out every task, and the clock (incidents/clock.py, `--clock-loops`, one by
default), which queues SLA warnings and breaches, escalation steps and the other deadlines the
moment they fall due; SIGTERM or SIGINT stops both within WORKER_STOP_GRACE seconds.

A deployment runs as many of these as it needs capacity: each adds a clock and workers, and
with any number of clocks each deadline fires once.

On SIGTERM, qcluster lets its workers run every task they hold, the ones they prefetched
too, before it exits: 63 to 81 s measured with a backlog, longer than a service manager or
`runportal` waits. This command asks the cluster to stop the same way, and when tasks are
still running after the grace, kills the cluster's processes. A killed task is handed back:
django-q2 acknowledges a task only once it is done, so the ORM broker hands it out again
Q_CLUSTER `retry` seconds after it was taken; a notification whose send was cut short is
queued again by the clock when its lease ends. Every task is idempotent, so one that had in
fact finished changes nothing the second time.
"""

import contextlib
import os
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django_q.cluster import Cluster

from incidents.clock import run_clock
from itsm.checks import CLOCK_LOOPS


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux's /proc), children before their own children."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, frontier = [], [pid]
    while frontier:
        children = [child for parent in frontier for child in parents.get(parent, [])]
        found.extend(children)
        frontier = children
    return found


def kill_tree(pid: int) -> None:
    for process in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(process, signal.SIGKILL)


def clocks_started(loops: int, stop: threading.Event) -> list[threading.Thread]:
    """`loops` clock loops, each a thread with its own database connection."""

    def run() -> None:
        try:
            run_clock(stop=stop)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, name=f"clock-{n}") for n in range(1, loops + 1)]
    for thread in threads:
        thread.start()
    return threads


class Command(BaseCommand):
    help = (
        "Run the worker: the django-q2 cluster and the clock that queues deadlines when they "
        "fall due; SIGTERM stops it within WORKER_STOP_GRACE seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--clock-loops",
            type=int,
            default=CLOCK_LOOPS,
            help=f"Clock loops (threads) in this process: {CLOCK_LOOPS} by default, 0 for none.",
        )

    def handle(self, *args, clock_loops, **options):
        settings.SECRET_KEY  # noqa: B018  (django-q2 signs tasks with it: fail before starting)
        stop = threading.Event()
        cluster = Cluster()  # installs qcluster's handlers, which wait for every task: replaced

        def request_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        cluster.start()  # forks the cluster's processes before any clock thread exists
        clocks = clocks_started(clock_loops, stop)
        sentinel = cluster.sentinel
        while sentinel.is_alive() and not stop.wait(0.5):
            pass
        asked = stop.is_set()
        stop.set()  # the clocks stop within a second, also when the cluster died on its own
        cluster.stop_event.set()
        sentinel.join(settings.WORKER_STOP_GRACE)
        if sentinel.is_alive():
            kill_tree(sentinel.pid)
            sentinel.join()
            self.stderr.write(
                f"Stopped the tasks still running after {settings.WORKER_STOP_GRACE:g} s; "
                "they are handed out again."
            )
        for clock in clocks:
            clock.join()
        if not asked:  # the cluster died on its own: a service manager restarts it
            raise CommandError("The worker cluster stopped without being asked to.")
