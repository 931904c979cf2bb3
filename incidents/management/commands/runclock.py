"""`manage.py runclock`: the process that fires SLA warnings and breaches, escalation steps and
notification retries on time (see incidents/clock.py and docs/operations.md).

It runs `--loops` clock loops (threads, two by default): each locks only the rows it is firing,
so while one waits on something slow the other fires the next deadlines. SIGTERM or SIGINT
(Ctrl-C) stops them within a second; a batch being fired is committed first.
"""

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import connections

from incidents.clock import run_clock


def run_clock_in_thread(stop: threading.Event) -> None:
    try:
        run_clock(stop=stop)
    finally:
        connections.close_all()


class Command(BaseCommand):
    help = "Run the clock: fire SLA deadlines, escalation steps and notification retries on time."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loops", type=int, default=2, help="Clock loops in this process (default 2)."
        )

    def handle(self, *args, loops, **options):
        stop = threading.Event()

        def request_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        others = [
            threading.Thread(target=run_clock_in_thread, args=(stop,), name=f"clock-{n}")
            for n in range(2, loops + 1)
        ]
        for thread in others:
            thread.start()
        run_clock(stop=stop)
        for thread in others:
            thread.join()
