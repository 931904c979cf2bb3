"""Health probes: /healthz/live answers without the database, /healthz/ready names what is down."""

import pytest
from django.core.cache import cache

from itsm import health


@pytest.mark.django_db
def test_live_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_live_answers_with_database_access_blocked(client):
    """Without the django_db mark any query raises, so an answer proves none was made."""
    assert client.get("/healthz/live").status_code == 200


def test_live_is_never_cached(client):
    assert "no-cache" in client.get("/healthz/live")["Cache-Control"]


@pytest.mark.django_db
def test_ready_when_database_and_channel_layer_answer(client):
    response = client.get("/healthz/ready")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
    assert response.json()["checks"] == {"database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_ready_is_503_naming_the_database_when_it_is_down(client, monkeypatch):
    monkeypatch.setattr(health, "_check_database", lambda: "OperationalError: connection refused")

    response = client.get("/healthz/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["database"]
    assert "connection refused" in body["checks"]["database"]
    assert body["checks"]["channel_layer"] == "ok"


@pytest.mark.django_db
def test_ready_is_503_naming_the_channel_layer_when_it_is_down(client, monkeypatch):
    monkeypatch.setattr(health, "_check_channel_layer", lambda: "ConnectionError: refused")

    response = client.get("/healthz/ready")

    assert response.status_code == 503
    assert response.json()["down"] == ["channel_layer"]


@pytest.mark.django_db
def test_ready_is_503_naming_the_worker_when_none_reports(client, settings, monkeypatch):
    settings.WORKER_HEARTBEAT_REQUIRED = True
    monkeypatch.setattr(health, "_check_clock", lambda: None)

    response = client.get("/healthz/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["worker"]
    assert body["checks"]["worker"].startswith("down")
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_ready_with_a_reporting_worker_and_a_ticking_clock(client, settings, monkeypatch):
    settings.WORKER_HEARTBEAT_REQUIRED = True
    monkeypatch.setattr(health, "_check_worker", lambda: None)
    cache.set(health.CLOCK_HEARTBEAT_KEY, "2026-01-01T00:00:00+00:00", 5)

    response = client.get("/healthz/ready")

    assert response.status_code == 200, response.content
    assert response.json()["checks"]["worker"] == "ok"
    assert response.json()["checks"]["clock"] == "ok"


@pytest.mark.django_db
def test_ready_is_503_naming_the_clock_when_it_stopped_ticking(client, settings, monkeypatch):
    settings.WORKER_HEARTBEAT_REQUIRED = True
    monkeypatch.setattr(health, "_check_worker", lambda: None)
    cache.delete(health.CLOCK_HEARTBEAT_KEY)

    response = client.get("/healthz/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["clock"]
    assert "no clock has ticked" in body["checks"]["clock"]


def test_database_check_reports_the_failure(monkeypatch):
    """The real check turns a failing connection into a message rather than raising."""

    class Broken:
        def cursor(self):
            raise OSError("no route to host")

    monkeypatch.setattr(health, "connection", Broken())

    assert health._check_database() == "OSError: no route to host"


@pytest.mark.parametrize("path", ["/healthz/live", "/healthz/ready"])
def test_probes_answer_only_get(client, path):
    assert client.post(path).status_code == 405
