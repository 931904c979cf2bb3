import ipaddress
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from axes.handlers.proxy import AxesProxyHandler
from channels.layers import channel_layers
from django.conf import settings
from django.contrib.auth.models import Group
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django_q.conf import Conf
from django_q.models import OrmQ
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from incidents import services
from incidents.choices import ChangeSource, ChecklistItem
from itsm import permission_cache, realtime
from itsm.api import throttle
from itsm.choices import ChatKind
from itsm.models import ChatWebhook
from itsm.roles import Role
from itsm.services import token_create
from tests.factories import ServiceFactory, TeamFactory, UserFactory, make_incident
from warroom.models import LEADERSHIP_GROUP
from warroom.status import cache as status_cache

pytest_plugins = ["tests.browser"]  # the browser tests' Chromium and ASGI server

# The portal's address in links that notifications carry (`portal_base_url`), and the paths
# `webhook_server` is posted to by the `slack` and `teams` channels.
BASE = "https://itsm.example.org"
SLACK_PATH = "/services/T000/B000/slack-secret"
TEAMS_PATH = "/webhookb2/teams-secret"

# Markers of tests that need a real service, skipped without it: the setting that says the
# service is there, and why the test is skipped.
NEEDS = {
    "postgres": ("IS_POSTGRES", "needs PostgreSQL: set DATABASE_URL (make test does in CI)"),
    "redis": ("REDIS_URL", "needs Redis: set REDIS_URL"),
}


def pytest_collection_modifyitems(config, items):
    for marker, (setting, reason) in NEEDS.items():
        if getattr(settings, setting):
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


_truncate = PostgresOperations.sql_flush


def _flush_by_deleting(ops, style, tables, *, reset_sequences=False, allow_cascade=False):
    """Django's flush, which empties every table after each transactional test, as DELETEs.
    PostgreSQL's TRUNCATE gives each of the ~120 tables new files: about a second a test, more
    on a busy disk. A DELETE of the few rows a test wrote takes milliseconds. The foreign keys
    are checked at commit (Django makes them deferrable), so the order does not matter."""
    if reset_sequences or allow_cascade:
        return _truncate(
            ops, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    return [f"{style.SQL_KEYWORD('DELETE FROM')} {ops.quote_name(table)};" for table in tables]


@pytest.fixture(scope="session", autouse=True)
def _flushes_delete():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PostgresOperations, "sql_flush", _flush_by_deleting)
        yield


# The address of Django's test client.
TEST_CLIENT_ADDRESS = "127.0.0.1"


def forget_failures(address: str) -> None:
    """Forget the failed sign-ins and bad tokens counted for `address`. Only the cache needs
    it: axes' database rows go with each test's transaction, but Redis keeps its counts."""
    throttle.forget(address)
    if settings.AXES_HANDLER == "axes.handlers.cache.AxesCacheHandler":
        AxesProxyHandler.reset_attempts(ip_address=address)


@pytest.fixture(autouse=True)
def _failures_not_carried_over():
    """A test that sends bad tokens or wrong passwords would otherwise lock the test client's
    address out of the tests that come after it."""
    forget_failures(TEST_CLIENT_ADDRESS)


@pytest.fixture(autouse=True)
def _status_cache(settings):
    """The status page's cache (warroom/status/cache.py) lives in Redis across tests and runs:
    each test starts with nothing cached. Without Redis the page is not cached at all (no
    cache is shared between processes); this process caches it in its memory, so that the
    tests see the cache at work either way."""
    if settings.CACHES["status"]["BACKEND"].endswith("DummyCache"):
        local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "status"}
        settings.CACHES = settings.CACHES | {"status": local}
    status_cache.forget_all()


@pytest.fixture(autouse=True)
def _permission_cache(settings):
    """API requests read permissions from the `permissions` cache (itsm/permission_cache.py),
    which lives in Redis across tests and runs: each test starts with nothing cached. Without
    Redis nothing is cached; this process caches in its memory, so that the tests see the
    cache at work (and count the same queries) either way."""
    if settings.CACHES["permissions"]["BACKEND"].endswith("DummyCache"):
        local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "perms"}
        settings.CACHES = settings.CACHES | {"permissions": local}
    permission_cache.forget_all()


@pytest.fixture
def address(db):
    """A client address of the test's own: Redis keeps lockouts and counts across tests and
    runs. Written as the lockout and the audit log write it (ipware's canonical form)."""
    address = str(ipaddress.ip_address(f"2001:db8:{secrets.token_hex(2)}::{secrets.token_hex(2)}"))
    yield address
    forget_failures(address)


@pytest.fixture
def make_user(db):
    def make(username=None, *, roles=(), **kwargs):
        if username:
            kwargs["username"] = username
        return UserFactory(roles=[str(r) for r in roles], **kwargs)

    return make


@pytest.fixture
def responder(make_user):
    return make_user("rita", roles=[Role.RESPONDER])


@pytest.fixture
def manager(make_user):
    return make_user("mona", roles=[Role.ITSM_MANAGER], is_staff=True)


@pytest.fixture
def super_admin(make_user):
    return make_user("sam", roles=[Role.SUPER_ADMIN], is_staff=True)


@pytest.fixture
def stakeholder(make_user):
    return make_user("stella", roles=[Role.STAKEHOLDER])


@pytest.fixture
def it_leader(stakeholder):
    """The stakeholder, also in IT leadership: whom the leadership audiences reach."""
    stakeholder.groups.add(Group.objects.get(name=LEADERSHIP_GROUP))
    return stakeholder


@pytest.fixture
def nobody(make_user):
    """Signed in, but holds no role."""
    return make_user("norole")


@pytest.fixture
def service(db):
    return ServiceFactory(slug="checkout", name="Checkout")


@pytest.fixture
def team(db):
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def incident(responder, service):
    return make_incident(actor=responder, services=[service.slug])


@pytest.fixture
def api(db):
    """An API client; `api.as_user(user)` signs it in with a fresh bearer token."""
    client = APIClient()

    def as_user(user):
        _, raw = token_create(user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    client.as_user = as_user
    return client


@pytest.fixture
def signed_in(client):
    """`signed_in(user)`: the test client, signed in as `user`."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def start_refused(environment: dict) -> str:
    """`manage.py check` with `environment` added, expected to fail: its error output."""
    started = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "tests.settings"} | environment,
        capture_output=True,
        text=True,
    )
    assert started.returncode != 0, started.stdout
    return started.stderr


METRICS_TOKEN = "metrics-" + "s3cr3t" * 6


@pytest.fixture
def scrape(client, settings):
    """`scrape()`: /metrics read with the configured token, parsed as Prometheus does:
    {sample name: {frozenset of (label, value): value}}."""
    settings.METRICS_TOKEN = METRICS_TOKEN

    def read():
        response = client.get("/metrics", secure=True, HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
        assert response.status_code == 200, response.content
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
        return samples

    return read


def sample(samples: dict, name: str, **labels) -> float:
    """The value of the sample `name` with exactly these labels."""
    return samples[name][frozenset(labels.items())]


def api_error(response, status: int, code: str) -> dict:
    """Assert `response` is the API's one error shape with this status and code; return its
    `fields`."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    return error["fields"]


def tick_all(incident, actor):
    for item in ChecklistItem.values:
        services.incident_tick_checklist(
            incident=incident, actor=actor, source=ChangeSource.CLI, item=item
        )


@pytest.fixture
def drive():
    """Move an incident along the lifecycle: `drive(incident, actor, "acknowledge", "start")`."""
    fields = {
        "hold": {"reason": "waiting on vendor"},
        "mitigate": {"note": "failed over to the standby"},
        "resolve": {"resolution_code": "fixed", "resolution_notes": "patched"},
        "reopen": {"reason": "errors are back"},
        "cancel": {"reason": "false positive"},
    }

    def run(incident, actor, *names):
        for name in names:
            if name == "close":
                tick_all(incident, actor)
            incident = services.incident_transition(
                incident=incident,
                name=name,
                actor=actor,
                source=ChangeSource.CLI,
                **fields.get(name, {}),
            )
        return incident

    return run


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """`committing(fn, *args, **kwargs)`: call fn and run what it left for after the commit:
    the sends it queued, the signals the war room follows."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def queued(monkeypatch):
    """Tasks go to django-q2's ORM broker (the OrmQ table), as in production, instead of
    running inline (the test settings' "sync")."""
    monkeypatch.setattr(Conf, "SYNC", False)


def queued_sends(func: str | None = None):
    """(pk, attempt) of every task in the ORM broker's queue (of function `func`: a dotted
    path), with repeats."""
    packages = [package.task for package in OrmQ.objects.all()]
    return sorted(tuple(t["args"]) for t in packages if func is None or t["func"] == func)


@pytest.fixture
def fresh_channel_layers():
    channel_layers.backends.clear()  # a cached Redis layer is bound to an earlier event loop
    realtime._unsent.clear()  # publishes an earlier test's layer could not number
    yield
    channel_layers.backends.clear()
    realtime._unsent.clear()


# --- chat channels ---------------------------------------------------------------------------


@pytest.fixture
def portal_base_url(settings):
    settings.PORTAL_BASE_URL = BASE


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "json": json.loads(body),
            }
        )
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        time.sleep(self.server.delay)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"upstream exploded")

    def log_message(self, *args):
        pass


@contextmanager
def local_server(handler):
    """A ThreadingHTTPServer on a free loopback port, serving `handler` in a thread, with
    `requests`, `statuses` and `delay` for the handler and its `url`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    server.statuses = []
    server.delay = 0
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def webhook_server():
    """A local stand-in for Slack and Teams: records each request; answers the statuses in
    `server.statuses` in turn, then 200, after `server.delay` seconds."""
    with local_server(_Recorder) as server:
        yield server


@pytest.fixture
def slack(db, webhook_server, monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_OPS", webhook_server.url + SLACK_PATH)
    return ChatWebhook.objects.create(
        slug="ops", name="#ops", kind=ChatKind.SLACK, url_env="SLACK_WEBHOOK_OPS"
    )


@pytest.fixture
def teams(db, webhook_server, monkeypatch):
    monkeypatch.setenv("TEAMS_WEBHOOK_MIM", webhook_server.url + TEAMS_PATH)
    return ChatWebhook.objects.create(
        slug="mim", name="Major incidents", kind=ChatKind.TEAMS, url_env="TEAMS_WEBHOOK_MIM"
    )
