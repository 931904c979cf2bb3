"""A responder who resolves an incident while its alerts still fire is asked to confirm: the
API answers 409 unless `"confirm": true`, the portal shows the form again with the question."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.choices import ChangeSource, IncidentStatus
from incidents.models import Incident
from itsm.errors import ConflictError
from tests.conftest import api_error
from tests.incidents.alert_payloads import payload, post

RESOLVE = {"resolution_code": "fixed", "resolution_notes": "restarted the pool"}


@pytest.fixture
def firing(client, make_integration, responder, drive):
    """An incident two firing alerts opened, which the responder is working on."""
    integration = make_integration()
    url = f"/api/alerts/alertmanager/{integration.key}/"
    post(client, url, payload("alertmanager_firing"))
    incident = Incident.objects.get()
    services.incident_update(
        incident=incident, actor=responder, source=ChangeSource.CLI, assignee=responder
    )
    return drive(incident, responder, "acknowledge", "start"), url


def test_the_api_answers_409_unless_confirmed(api, responder, firing):
    incident, _ = firing
    client = api.as_user(responder)
    url = f"/api/incidents/{incident.number}/resolve/"

    fields = api_error(client.post(url, RESOLVE, format="json"), 409, "conflict")
    assert fields == {
        "confirm": [f"2 alerts of {incident.number} still fire. Tick to resolve it anyway."]
    }
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING

    response = client.post(url, {**RESOLVE, "confirm": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == IncidentStatus.RESOLVED


def test_the_portal_asks_and_resolves_once_ticked(client, responder, firing):
    incident, _ = firing
    client.force_login(responder)
    url = reverse("incidents:transition", args=[incident.number, "resolve"])

    response = client.post(url, RESOLVE)
    assert response.status_code == 409
    assert "Tick to resolve it anyway" in response.content.decode()
    assert 'name="confirm"' in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING

    assert client.post(url, {**RESOLVE, "confirm": "on"}).status_code == 302
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED


def test_once_the_alerts_resolved_no_confirmation_is_asked(client, responder, firing, drive):
    incident, url = firing
    post(client, url, payload("alertmanager_resolved"))  # the integration resolves it
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED

    other = drive(incident, responder, "reopen", "resolve")
    assert other.status == IncidentStatus.RESOLVED


def test_an_incident_without_alerts_resolves_as_before(responder, drive):
    from tests.factories import make_incident

    incident = make_incident(actor=responder)
    assert drive(incident, responder, "acknowledge", "start", "resolve").status == "resolved"


def test_the_check_runs_under_the_incident_lock(responder, firing):
    incident, _ = firing
    with pytest.raises(ConflictError):
        services.incident_resolve(incident=incident, actor=responder, source="cli", **RESOLVE)
