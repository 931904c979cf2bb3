"""Servers a fault test starts, breaks and stops itself: never the shared PostgreSQL or Redis."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.browser import free_port

INITDB = shutil.which("initdb")
PG_CTL = shutil.which("pg_ctl")
# pg_dump and psql of the same release, beside the real pg_ctl.
PG_BIN = Path(PG_CTL).resolve().parent if PG_CTL else None
PG_DUMP = str(PG_BIN / "pg_dump") if PG_BIN else None
PSQL = str(PG_BIN / "psql") if PG_BIN else None
MISSING_POSTGRES = (
    "initdb, pg_ctl, pg_dump and psql are not all installed: a fault test needs a PostgreSQL of "
    "its own"
)


REDIS_SERVER = shutil.which("redis-server")
MISSING_REDIS = "redis-server is not installed: a fault test needs a Redis of its own"


def postgres_binaries_missing() -> bool:
    return not (INITDB and PG_CTL and Path(PG_DUMP).exists() and Path(PSQL).exists())


# The marks of a test that runs on a PostgreSQL and a Redis of its own (`private_servers`).
PRIVATE_SERVERS_MARKS = [
    pytest.mark.postgres,
    pytest.mark.django_db,  # pytest-django then creates the test database the test copies
    pytest.mark.skipif(postgres_binaries_missing(), reason=MISSING_POSTGRES),
    pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING_REDIS),
]


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on `port`, with trust authentication.
    initdb refuses to run as root, so as root the cluster belongs to the `postgres` user."""

    def __init__(self, port: int):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="itsm-fault-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def _pg_ctl(self, *action: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(PG_CTL, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", *action)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, user="postgres")
        self._run(INITDB, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self._pg_ctl("start")

    def restart(self) -> None:
        """Every connection is cut; new ones are refused until the server is back."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def copy_database(self, source_url: str) -> None:
        """Schema and rows of `source_url` (the migrated test database): a second of pg_dump
        instead of the 15 s migrate takes."""
        dump = subprocess.run(
            [PG_DUMP, "--no-owner", "--no-privileges", "-d", source_url],
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [PSQL, "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url],
            input=dump.stdout,
            check=True,
            capture_output=True,
            timeout=60,
        )


class PrivateRedis:
    """A Redis on `port` that keeps nothing on disk."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = None

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port} within 10 s")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def manage(env: dict, *arguments: str) -> str:
    """`manage.py` with the test settings and `env` (a private DATABASE_URL, REDIS_URL); its
    standard output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=settings.BASE_DIR,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "tests.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@contextlib.contextmanager
def private_servers(source_url: str, postgres_ports: range, redis_ports: range):
    """A PostgreSQL and a Redis of the caller's own, the PostgreSQL holding a copy of the
    database at `source_url` (the migrated test database)."""
    postgres = PrivatePostgres(free_port(postgres_ports))
    redis = PrivateRedis(free_port(redis_ports))
    try:
        postgres.start()
        postgres.copy_database(source_url)
        redis.start()
        yield postgres, redis
    finally:
        if redis.process:
            redis.stop()
        postgres.stop()
