"""`make run PORT=8123` links to :8123: the launcher (`manage.py runportal`) gives its web
server, worker and clock the address it listens at as PORTAL_BASE_URL, unless one is set, so
links in email and chat messages and the Content-Security-Policy's websocket origin follow the
port."""

import json
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from itsm.management.commands.runportal import Command, portal_base_url
from itsm.notifications import notify

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
