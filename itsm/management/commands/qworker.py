"""`manage.py qworker`: the django-q2 worker cluster (`qcluster`), stopped within
WORKER_STOP_GRACE seconds of SIGTERM or SIGINT.

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
from django_q.cluster import Cluster


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


class Command(BaseCommand):
    help = "Run the django-q2 worker cluster; SIGTERM stops it within WORKER_STOP_GRACE seconds."

    def handle(self, *args, **options):
        settings.SECRET_KEY  # noqa: B018  (django-q2 signs tasks with it: fail before starting)
        stop = threading.Event()
        cluster = Cluster()  # installs qcluster's handlers, which wait for every task: replaced

        def request_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        cluster.start()
        sentinel = cluster.sentinel
        while sentinel.is_alive() and not stop.wait(0.5):
            pass
        cluster.stop_event.set()
        sentinel.join(settings.WORKER_STOP_GRACE)
        if sentinel.is_alive():
            kill_tree(sentinel.pid)
            sentinel.join()
            self.stderr.write(
                f"Stopped the tasks still running after {settings.WORKER_STOP_GRACE:g} s; "
                "they are handed out again."
            )
        if not stop.is_set():  # the cluster died on its own: a service manager restarts it
            raise CommandError("The worker cluster stopped without being asked to.")
