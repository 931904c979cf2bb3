"""Test settings: the real settings, with what a test client over plain HTTP needs."""

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("ITSM_TESTING", "1")


def _worker_redis_url(url: str, worker: str) -> str:
    """The Redis database of pytest-xdist's worker `worker` (gw0, gw1, …): the URL's own
    database number plus the worker's, so parallel workers never see each other's keys (the
    status cache, lockout counts, channel groups)."""
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{database}"))


# The run's own URL stays in REDIS_URL_OF_RUN: the processes a test starts inherit this
# environment and load these settings again, and must land on their worker's database.
if os.environ.get("REDIS_URL") and "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("REDIS_URL_OF_RUN", os.environ["REDIS_URL"])
    os.environ["REDIS_URL"] = _worker_redis_url(
        os.environ["REDIS_URL_OF_RUN"], os.environ["PYTEST_XDIST_WORKER"]
    )

from itsm.settings import *  # noqa: E402, F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WORKER_HEARTBEAT_REQUIRED = False
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405

# On SQLite the test database is a file, not Django's in-memory default: the browser test
# (tests/warroom/test_browser.py) serves it from a separate ASGI server process. One file per
# pytest process, so parallel runs do not share one; Django deletes it at the end.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"itsm-test-{os.getpid()}.sqlite3")
    }

# Sign-in failure counts in a namespace of this run's own: Redis keeps them for the cool-off, and
# a run must not find the test client's address locked out by the run before it.
if REDIS_URL:  # noqa: F405
    CACHES["axes"] = {  # noqa: F405
        **CACHES["default"],  # noqa: F405
        "KEY_PREFIX": f"{CACHES['default']['KEY_PREFIX']}-axes-{secrets.token_hex(4)}",  # noqa: F405
    }
    AXES_CACHE = "axes"
