"""What the browser tests share (a pytest plugin, see tests/conftest.py): Debian's Chromium
driven by Playwright, and the production ASGI server (uvicorn, in its own process) serving the
test database, over HTTP or (for clients that refuse anything else) HTTPS."""

import contextlib
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import connection, connections
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOST = "127.0.0.1"
PORTS = range(19100, 19200)
PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's


def free_port(ports: range) -> int:
    """A port of `ports` nobody listens on. Under pytest-xdist each worker takes only its own
    share of them (port number modulo the worker count), so that two workers never both pick
    a port in the moment between one's probe and its server's bind."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    for port in (port for port in ports if port % workers == worker):
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.bind((HOST, port))
            return port
    raise RuntimeError(f"No free port in {ports}.")


def _test_database_url() -> str:
    """The database pytest-django created for this run, for a process of its own."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


@dataclass(frozen=True)
class Tls:
    """A self-signed certificate for HOST and its key, in PEM files."""

    cert: Path
    key: Path

    @classmethod
    def make(cls, folder: Path) -> "Tls":
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        tls = cls(cert=folder / "cert.pem", key=folder / "key.pem")
        tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        tls.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return tls

    def client_context(self) -> ssl.SSLContext:
        """What a client that trusts only this certificate verifies the server with."""
        return ssl.create_default_context(cafile=self.cert)


class AsgiServer:
    """uvicorn serving itsm.asgi (HTTP and websockets) on the test database, with `env` on top
    of this process's environment; over HTTPS with `tls`."""

    def __init__(self, port: int, log: Path, env: dict | None = None, tls: Tls | None = None):
        self.port = port
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://{HOST}:{port}"
        self.log = log
        self.process = None
        self.env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _test_database_url(),
            **(env or {}),
        }

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "itsm.asgi:application",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        if self.tls:
            command += ["--ssl-certfile", str(self.tls.cert), "--ssl-keyfile", str(self.tls.key)]
        context = self.tls.client_context() if self.tls else None
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The server exited:\n{self.log.read_text()}")
            live = f"{self.url}/healthz/live"
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(live, timeout=1, context=context),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"The server did not answer in 30 s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """A crash: every socket drops at once, nobody is told."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def server(tmp_path):
    """The portal served by uvicorn on the test database, for one test."""
    server = AsgiServer(free_port(PORTS), tmp_path / "server.log")
    server.start()
    yield server
    server.stop()  # before pytest-django empties the database it reads


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def sign_in(browser, server: "AsgiServer", username: str, path: str, log: dict):
    """A person of their own (a browser context: own cookies) signed in through the login
    page and looking at `path`. The page's script errors go to log["errors"], the addresses
    of the websockets it opens to log[username]."""
    page = browser.new_context().new_page()
    page.on("pageerror", lambda error: log["errors"].append(f"{username}: {error}"))
    page.on("websocket", lambda socket: log[username].append(socket.url))
    log_in(page, server, username, path)
    return page


def log_in(page, server: "AsgiServer", username: str, path: str) -> None:
    """Sign `page` in as `username` through the login page, and wait for `path`."""
    page.goto(f"{server.url}/login/?next={path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}{path}")


def off_the_loop(work):
    """Run `work` (reads and service calls) in a thread of its own. Playwright's sync API
    keeps an event loop marked as running in this one, where Django refuses the database
    and async_to_sync (realtime.publish)."""

    def run():
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
