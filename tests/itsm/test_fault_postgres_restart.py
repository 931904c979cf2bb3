"""PostgreSQL restarts (three times) while clients log incidents through the API: every write
not under way during a restart succeeds (the pool checks a connection before handing it out,
so none of its dead ones reaches a request), and no answer of 5xx stands for an incident that
was in fact logged (a client that retries on 5xx would log it twice). A client that retries each
failure with the same Idempotency-Key logs each incident once.

The PostgreSQL and Redis are the test's own (tests/faults.py), holding a copy of the migrated
test database; the portal is a real uvicorn process, as in production."""

import logging
import threading
import time
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from tests.browser import PORTS, AsgiServer, _test_database_url, free_port
from tests.faults import (
    PRIVATE_SERVERS_MARKS,
    manage,
    private_servers,
)

pytestmark = PRIVATE_SERVERS_MARKS

WRITERS = 2
PAUSE = 0.02  # between a writer's writes: the server mostly busy, a write often in flight
# Connections the portal's pool opens at once and keeps (production's default maximum): more
# than the writers use, so when PostgreSQL restarts most of them sit idle, dead, waiting to be
# handed out, more than the writes during the outage use up.
POOL_SIZE = 20
BEFORE_SECONDS = 1.5  # writing before the first restart: every writer's connection is open
RESTARTS = 3  # each a chance for a write to commit just before its answer is read
BETWEEN_SECONDS = 1.5  # writing after each restart completes
TITLE = "fault-restart"
RETRIES = 100  # a keyed write sent again after a 5xx or no answer, RETRY_PAUSE apart
RETRY_PAUSE = 0.1
MAKE_WRITER = (
    "from itsm.services import token_create; from tests.factories import UserFactory; "
    "print(token_create(user=UserFactory(username='fault-writer', roles=['responder']))[1])"
)


@dataclass
class Write:
    title: str
    sent_at: float
    answered_at: float = 0.0
    status: int | None = None  # None: no answer at all
    error: str = ""


@pytest.fixture
def servers():
    """A PostgreSQL and a Redis of this test's own, the PostgreSQL holding a copy of the
    migrated test database."""
    with private_servers(_test_database_url(), range(19300, 19400), range(19400, 19500)) as both:
        yield both


def write_until(
    stop: threading.Event, url: str, token: str, writer: int, log: list, *, retry: bool = False
) -> None:
    """Log incidents one after another until told to stop, noting each answer. With `retry`,
    each write sends an Idempotency-Key and is sent again with it after a 5xx or no answer."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=15) as http:
        number = 0
        while not stop.is_set():
            number += 1
            write = Write(f"{TITLE} {writer}-{number}", time.monotonic())
            key = {"Idempotency-Key": write.title} if retry else {}
            for attempt in range(RETRIES if retry else 1):
                if attempt:
                    time.sleep(RETRY_PAUSE)
                _send(http, write, key)
                if write.status and write.status < 500:
                    break
            write.answered_at = time.monotonic()
            log.append(write)
            time.sleep(PAUSE)


def _send(http: httpx.Client, write: Write, headers: dict) -> None:
    body = {"title": write.title, "impact": 2, "urgency": 2}
    try:
        response = http.post("/api/incidents/", json=body, headers=headers)
        write.status = response.status_code
        write.error = response.text[:200] if response.status_code >= 400 else ""
    except httpx.HTTPError as exc:
        write.status, write.error = None, repr(exc)


def committed_titles(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT title FROM incidents_incident WHERE title LIKE %s", [f"{TITLE} %"]
        )
        return [title for (title,) in rows]


def write_through_restarts(servers, tmp_path, *, retry: bool):
    """Writers logging incidents while PostgreSQL restarts RESTARTS times: their writes, the
    restarts' (began, completed) moments and the titles committed."""
    postgres, redis = servers
    env = {"DATABASE_URL": postgres.url, "REDIS_URL": redis.url}
    token = manage(env, "shell", "-c", MAKE_WRITER).strip().splitlines()[-1]
    server_env = env | {"DATABASE_POOL_MIN": str(POOL_SIZE), "DATABASE_POOL_MAX": str(POOL_SIZE)}
    server = AsgiServer(free_port(PORTS), tmp_path / "server.log", env=server_env)
    server.start()
    stop, log = threading.Event(), []
    writers = [
        threading.Thread(
            target=write_until,
            args=(stop, server.url, token, n, log),
            kwargs={"retry": retry},
        )
        for n in range(WRITERS)
    ]
    outages = []  # (restart began, restart completed)
    try:
        for writer in writers:
            writer.start()
        time.sleep(BEFORE_SECONDS)
        for _ in range(RESTARTS):
            began = time.monotonic()
            postgres.restart()
            outages.append((began, time.monotonic()))
            time.sleep(BETWEEN_SECONDS)
    finally:
        stop.set()
        for writer in writers:
            writer.join()
        server.stop()
    return log, outages, committed_titles(postgres.url)


def test_writes_through_a_postgres_restart(servers, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="httpx")  # not a line per request
    log, outages, titles = write_through_restarts(servers, tmp_path, retry=False)

    committed = set(titles)
    outside = [w for w in log if not any(in_flight(w, *outage) for outage in outages)]
    assert len(outside) > len(log) / 2, "most writes were sent with PostgreSQL up"
    failed_outside = [w for w in outside if w.status != 201]
    assert failed_outside == [], f"{len(failed_outside)} writes failed with PostgreSQL up: " + (
        "; ".join(f"{w.status} {w.error}" for w in failed_outside[:3])
    )
    committed_but_5xx = [w for w in log if w.status and w.status >= 500 and w.title in committed]
    assert committed_but_5xx == [], "answered 5xx, yet logged: a retry would log it twice"
    created_but_missing = [w.title for w in log if w.status == 201 and w.title not in committed]
    assert created_but_missing == []


def test_retries_with_a_key_through_a_postgres_restart_log_each_incident_once(
    servers, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="httpx")
    log, _, titles = write_through_restarts(servers, tmp_path, retry=True)

    assert [w for w in log if w.status != 201] == [], "every write answered 201 in the end"
    assert sorted(titles) == sorted(w.title for w in log), "each write logged once, none twice"


def in_flight(write: Write, began: float, completed: float) -> bool:
    """Whether `write` was under way at some moment of the restart: the only writes that may
    fail."""
    return write.sent_at < completed and write.answered_at > began
