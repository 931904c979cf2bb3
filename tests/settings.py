"""Test settings: the real settings, with what a test client over plain HTTP needs."""

import os
import secrets
import tempfile
from pathlib import Path

os.environ.setdefault("ITSM_TESTING", "1")

from itsm.settings import *  # noqa: F403

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
