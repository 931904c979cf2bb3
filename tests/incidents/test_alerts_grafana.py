"""Grafana's webhook contact point: Alertmanager's shape and more, optionally signed."""

import hashlib
import hmac
import json

import pytest

from incidents.choices import IncidentStatus, PayloadOutcome, ResolutionCode
from incidents.models import Alert, Incident, ReceivedPayload
from tests.conftest import api_error
from tests.incidents.alert_payloads import payload, post

FIRING = payload("grafana_firing")
RESOLVED = payload("grafana_resolved")
HEADER = "X-Grafana-Alerting-Signature"
SECRET = "grafana-webhook-secret"


def _signed(body: dict, secret: str = SECRET) -> tuple[str, dict]:
    text = json.dumps(body)
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return text, {"HTTP_X_GRAFANA_ALERTING_SIGNATURE": digest}


@pytest.fixture
def grafana(make_integration):
    return make_integration("grafana")


def test_firing_then_resolved_is_one_incident_auto_resolved(client, grafana):
    url = f"/api/alerts/grafana/{grafana.key}/"
    assert post(client, url, FIRING).status_code == 202
    incident = Incident.objects.get()
    assert incident.priority == "P3"  # severity="warning"
    assert incident.title == "Payment API p95 latency above 5 s"
    assert incident.description == "p95 latency of the payment API is 6.2 s."
    alert = Alert.objects.get()
    assert alert.fingerprint == "7c2e5b91d04a3f68"
    assert alert.starts_at.isoformat() == "2026-12-03T08:50:00+00:00"

    assert post(client, url, RESOLVED).status_code == 202
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolution_code == ResolutionCode.AUTO_RESOLVED
    assert Incident.objects.count() == 1


def test_a_signed_integration_takes_the_right_signature(client, make_integration):
    signed = make_integration("grafana", signature_header=HEADER, signature_secret=SECRET)
    text, headers = _signed(FIRING)
    assert post(client, f"/api/alerts/grafana/{signed.key}/", text, **headers).status_code == 202
    assert Incident.objects.count() == 1
    kept = ReceivedPayload.objects.get()
    assert kept.headers[HEADER] == headers["HTTP_X_GRAFANA_ALERTING_SIGNATURE"]
    assert "Authorization" not in kept.headers


@pytest.mark.parametrize("wrong", ["another secret", None, "non-ascii"])
def test_a_wrong_or_missing_signature_is_401_and_opens_nothing(client, make_integration, wrong):
    signed = make_integration("grafana", signature_header=HEADER, signature_secret=SECRET)
    text, headers = _signed(FIRING, wrong or SECRET)
    if wrong is None:
        headers = {}
    if wrong == "non-ascii":
        headers = {"HTTP_X_GRAFANA_ALERTING_SIGNATURE": "é" * 64}

    response = post(client, f"/api/alerts/grafana/{signed.key}/", text, **headers)

    api_error(response, 401, "not_authenticated")
    assert not Incident.objects.exists()
    assert ReceivedPayload.objects.get().outcome == PayloadOutcome.BAD_SIGNATURE


def test_a_signature_of_another_body_is_401(client, make_integration):
    signed = make_integration("grafana", signature_header=HEADER, signature_secret=SECRET)
    _, headers = _signed(RESOLVED)
    response = post(client, f"/api/alerts/grafana/{signed.key}/", json.dumps(FIRING), **headers)
    api_error(response, 401, "not_authenticated")


def test_grafana_values_must_be_numbers(client, grafana):
    body = payload("grafana_firing")
    body["alerts"][0]["values"] = {"A": "high"}
    fields = api_error(post(client, f"/api/alerts/grafana/{grafana.key}/", body), 400, "invalid")
    assert "alerts[0].values.A" in fields
