"""`make run PORT=8123` links to :8123: the launcher (`manage.py runportal`) gives its web
server, worker and clock the address it listens at as PORTAL_BASE_URL, unless one is set, so
links in email and chat messages and the Content-Security-Policy's websocket origin follow the
port."""

import io
import json
import os
import socket
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError

from itsm.management.commands.runportal import Command, portal_base_url
from itsm.notifications import notify
from tests.browser import PORTS, _test_database_url, free_port

# What a child process's settings make of its environment.
READ_SETTINGS = (
    "import json; from django.conf import settings; print(json.dumps(["
    "settings.PORTAL_BASE_URL, settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src']]))"
)


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ("localhost", 8000, "http://localhost:8000"),
        ("0.0.0.0", 8123, "http://127.0.0.1:8123"),
        ("::", 9000, "http://[::1]:9000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("[::1]", 9000, "http://[::1]:9000"),
    ],
)
def test_the_base_url_is_where_the_web_server_listens(host, port, expected):
    assert portal_base_url(host, port) == expected


def child_settings(env: dict) -> list:
    """PORTAL_BASE_URL and the CSP's connect-src as a child started with `env` has them."""
    done = subprocess.run(
        [sys.executable, "-c", READ_SETTINGS],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_children_of_a_launcher_on_another_port_link_to_that_port(monkeypatch):
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)

    env = Command()._child_environment("127.0.0.1", 8123)

    assert env["PORTAL_BASE_URL"] == "http://127.0.0.1:8123"
    base, connect_src = child_settings(env)
    assert base == "http://127.0.0.1:8123"
    assert connect_src == ["'self'", "ws://127.0.0.1:8123"]


@pytest.mark.parametrize("value", ["https://portal.example.org", ""])
def test_an_address_set_in_the_environment_wins_unless_empty(monkeypatch, value):
    monkeypatch.setenv("PORTAL_BASE_URL", value)

    env = Command()._child_environment("127.0.0.1", 8123)

    assert env["PORTAL_BASE_URL"] == (value or "http://127.0.0.1:8123")


def test_an_email_from_a_portal_on_port_8123_links_to_8123(
    committing, responder, mailoutbox, monkeypatch, settings
):
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    base, _ = child_settings(Command()._child_environment("127.0.0.1", 8123))
    settings.PORTAL_BASE_URL = base  # what the launcher's worker, which sends it, has

    committing(
        notify,
        recipients=[responder],
        subject="INC0000042 needs you",
        body="Checkout returns 500.",
        link="/incidents/INC0000042/",
        dedupe_key="test:8123",
        channels=["email"],
    )

    (mail,) = mailoutbox
    assert "http://127.0.0.1:8123/incidents/INC0000042/" in mail.body
    assert ":8000" not in mail.body


# A child that answers /healthz/ready as the portal's web server would, with these checks.
FAKE_WEB_SERVER = """
import http.server, json, sys
checks = json.loads(sys.argv[2])
class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"checks": checks}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ready).serve_forever()
"""


@pytest.fixture
def launcher():
    """The launcher with no children yet; whatever a test starts is stopped after it."""
    command = Command(stdout=io.StringIO(), stderr=io.StringIO())
    command._children, command._valkey, command._stopping = {}, None, False
    yield command
    command._stop_all()


def start(launcher, name: str, code: str, *arguments: str) -> None:
    launcher._start(name, [sys.executable, "-c", code, *arguments], dict(os.environ))


def test_a_child_exiting_before_the_portal_is_ready_is_an_error_naming_it(launcher):
    start(launcher, "web", "import time; time.sleep(60)")
    start(launcher, "worker", "raise SystemExit(3)")

    with pytest.raises(CommandError, match="The worker exited with code 3 before the portal"):
        launcher._wait_until_ready("http://127.0.0.1:9", timeout=30)


def test_a_web_server_that_never_answers_is_an_error_after_the_timeout(launcher):
    start(launcher, "web", "import time; time.sleep(60)")

    with pytest.raises(CommandError, match=r"not ready within 1 s \(the web server does not"):
        launcher._wait_until_ready("http://127.0.0.1:9", timeout=1)


def test_a_check_that_stays_down_is_named_after_the_timeout(launcher):
    port = free_port(PORTS)
    checks = {"database": "ok", "channel_layer": "ok", "worker": "down: no worker", "clock": "ok"}
    start(launcher, "web", FAKE_WEB_SERVER, str(port), json.dumps(checks))
    start(launcher, "worker", "import time; time.sleep(60)")

    with pytest.raises(CommandError, match=r"within 2 s \(worker: down: no worker\)"):
        launcher._wait_until_ready(f"http://127.0.0.1:{port}", timeout=2)


def test_ready_once_every_check_of_a_started_child_is_ok(launcher):
    """Started without a worker or clock (--no-worker), their checks do not matter."""
    port = free_port(PORTS)
    checks = {"database": "ok", "channel_layer": "ok", "worker": "down: none", "clock": "down"}
    start(launcher, "web", FAKE_WEB_SERVER, str(port), json.dumps(checks))

    launcher._wait_until_ready(f"http://127.0.0.1:{port}", timeout=30)


def test_a_child_exiting_later_stops_the_launcher_with_an_error(launcher):
    start(launcher, "clock", "raise SystemExit(1)")

    with pytest.raises(CommandError, match="The clock exited with code 1; stopped the others"):
        launcher._wait()


LAUNCH = [sys.executable, "manage.py", "runportal", "--no-worker", "--no-seed"]


@pytest.mark.django_db
def test_the_command_exits_non_zero_with_the_message():
    """The whole launcher, as `make run` runs it: its web server cannot start (the port is
    taken), and the launcher says so and exits 1 instead of 0."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*LAUNCH, "--port", str(port), "--ready-timeout", "30"],
            cwd=django_settings.BASE_DIR,
            env=os.environ
            | {"DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _test_database_url()},
            capture_output=True,
            text=True,
            timeout=90,
        )

    assert done.returncode == 1
    assert "The web exited with code 1 before the portal was ready" in done.stderr
