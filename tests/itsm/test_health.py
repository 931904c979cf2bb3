"""Health probes: /healthz/live answers without the database; /healthz/ready fails only without
the database and names what else is down, which ?strict=1 fails on too."""

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
@pytest.mark.parametrize("query", ["", "?strict=1"])
def test_ready_is_503_naming_the_database_when_it_is_down(client, monkeypatch, query):
    """A web process without its database serves nothing: strict or not, take it out."""
    monkeypatch.setattr(health, "_check_database", lambda: "OperationalError: connection refused")

    response = client.get(f"/healthz/ready{query}")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["database"]
    assert "connection refused" in body["checks"]["database"]
    assert body["checks"]["channel_layer"] == "ok"


@pytest.mark.django_db
def test_ready_is_200_degraded_naming_the_channel_layer_when_it_is_down(client, monkeypatch):
    """A load balancer keeps a web process whose pages cannot go live: it still serves them."""
    monkeypatch.setattr(health, "_check_channel_layer", lambda: "ConnectionError: refused")

    response = client.get("/healthz/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["channel_layer"]
    assert body["checks"] == {"database": "ok", "channel_layer": "down: ConnectionError: refused"}


@pytest.mark.django_db
@pytest.mark.parametrize("strict", ["1", "true", "TRUE"])
def test_strict_ready_is_503_when_the_channel_layer_is_down(client, monkeypatch, strict):
    monkeypatch.setattr(health, "_check_channel_layer", lambda: "ConnectionError: refused")

    response = client.get(f"/healthz/ready?strict={strict}")

    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["down"] == ["channel_layer"]


@pytest.mark.django_db
def test_strict_ready_is_200_when_everything_answers(client):
    response = client.get("/healthz/ready?strict=1")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_strict_0_is_the_default_probe(client, monkeypatch):
    monkeypatch.setattr(health, "_check_channel_layer", lambda: "ConnectionError: refused")

    assert client.get("/healthz/ready?strict=0").status_code == 200


@pytest.mark.parametrize("strict", ["yes please", "2", ""])
def test_a_strict_value_other_than_1_or_0_is_400(client, strict):
    response = client.get(f"/healthz/ready?strict={strict}")

    assert response.status_code == 400
    assert response.json() == {"detail": "strict must be 1 or 0."}


@pytest.mark.django_db
def test_ready_is_degraded_naming_the_worker_when_none_reports(client, settings, monkeypatch):
    settings.WORKER_HEARTBEAT_REQUIRED = True
    monkeypatch.setattr(health, "_check_clock", lambda: None)

    response = client.get("/healthz/ready")
    strict = client.get("/healthz/ready?strict=1")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["worker"]
    assert body["checks"]["worker"].startswith("down")
    assert body["checks"]["database"] == "ok"
    assert strict.status_code == 503


@pytest.mark.django_db
def test_ready_with_a_reporting_worker_and_a_ticking_clock(client, settings, monkeypatch):
    settings.WORKER_HEARTBEAT_REQUIRED = True
    monkeypatch.setattr(health, "_check_worker", lambda: None)
    cache.set(health.CLOCK_HEARTBEAT_KEY, "2026-01-01T00:00:00+00:00", 5)

    response = client.get("/healthz/ready?strict=1")

    assert response.status_code == 200, response.content
    assert response.json()["checks"]["worker"] == "ok"
    assert response.json()["checks"]["clock"] == "ok"


@pytest.mark.django_db
def test_ready_is_degraded_naming_the_clock_when_it_stopped_ticking(client, settings, monkeypatch):
    settings.WORKER_HEARTBEAT_REQUIRED = True
    monkeypatch.setattr(health, "_check_worker", lambda: None)
    cache.delete(health.CLOCK_HEARTBEAT_KEY)

    response = client.get("/healthz/ready")
    strict = client.get("/healthz/ready?strict=1")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["clock"]
    assert "no clock has ticked" in body["checks"]["clock"]
    assert strict.status_code == 503


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
