"""Test settings: the real settings, with what a test client over plain HTTP needs."""

import os

os.environ.setdefault("ITSM_TESTING", "1")

from itsm.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WORKER_HEARTBEAT_REQUIRED = False
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
