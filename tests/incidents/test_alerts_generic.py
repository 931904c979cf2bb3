"""Generic JSON at /api/alerts/generic/{key}/: any sender's JSON, read with the field mapping
the integration's admin wrote (title, severity, dedup key, resolve condition)."""

import pytest
from django.core.exceptions import ValidationError

from incidents.choices import IncidentStatus, PayloadOutcome, ResolutionCode
from incidents.models import AlertGroup, Incident, ReceivedPayload
from itsm.errors import ValidationFailed
from tests.conftest import api_error
from tests.incidents.alert_payloads import incident_of, post

MAPPING = {
    "title_path": "check.name",
    "dedup_key_path": "check.id",
    "severity_path": "level",
    "resolve_when": 'state in ["ok", "recovered"]',
}


def _body(state="alerting", **changes) -> dict:
    return {
        "check": {"id": 4711, "name": "Disk almost full on db-1"},
        "level": "critical",
        "state": state,
        "tags": ["disk"],
        **changes,
    }


@pytest.fixture
def generic(make_integration):
    return make_integration("generic", **MAPPING)


@pytest.fixture
def url(generic):
    return f"/api/alerts/generic/{generic.key}/"


def test_firing_then_resolved_is_one_incident_auto_resolved(client, url):
    response = post(client, url, _body())

    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert incident_of(response) == incident
    assert (AlertGroup.objects.get().alert_count, AlertGroup.objects.get().firing_count) == (1, 1)
    assert incident.title == "Disk almost full on db-1"
    assert incident.priority == "P1"  # level "critical"
    assert AlertGroup.objects.get().key == "4711"

    post(client, url, _body())  # a repeat
    assert Incident.objects.count() == 1
    assert post(client, url, _body(state="recovered")).status_code == 202
    assert AlertGroup.objects.get().firing_count == 0
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolution_code == ResolutionCode.AUTO_RESOLVED


def test_another_dedup_key_is_another_incident(client, url):
    post(client, url, _body())
    post(client, url, _body(check={"id": "other", "name": "CPU"}))
    assert Incident.objects.count() == 2


def test_without_a_severity_or_a_condition_every_payload_fires_at_p3(client, make_integration):
    integration = make_integration("generic", title_path="title", dedup_key_path="alerts.0.id")
    url = f"/api/alerts/generic/{integration.key}/"
    body = {"title": "Queue backing up", "alerts": [{"id": "q1"}], "state": "ok"}

    assert post(client, url, body).status_code == 202
    incident = Incident.objects.get()
    assert (incident.priority, incident.status) == ("P3", IncidentStatus.NEW)


def test_the_key_may_be_a_bearer_token_and_the_slash_is_optional(client, generic, url):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {generic.key}"}
    assert post(client, "/api/alerts/generic/", _body(), **auth).status_code == 202
    assert post(client, "/api/alerts/generic", _body(), **auth).status_code == 202
    assert post(client, url.rstrip("/"), _body()).status_code == 202
    assert AlertGroup.objects.get().received_count == 3


def test_another_kind_s_key_is_404(client, make_integration):
    alertmanager = make_integration()
    response = post(client, f"/api/alerts/generic/{alertmanager.key}/", _body())
    api_error(response, 404, "not_found")


def test_missing_mapped_fields_are_a_400_naming_them_and_kept(client, url):
    body = _body(level=None)
    del body["check"]["name"]

    fields = api_error(post(client, url, body), 400, "invalid")

    assert fields == {
        "check.name": ["This field is required."],
        "level": ["This field is required."],
    }
    assert not Incident.objects.exists()
    kept = ReceivedPayload.objects.get()
    assert kept.outcome == PayloadOutcome.INVALID
    assert "check.name" in kept.error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_body(check={"id": {"nested": 1}, "name": "x"}), "check.id"),
        (_body(check={"id": True, "name": "x"}), "check.id"),
        (_body(check={"id": "x" * 1001, "name": "x"}), "check.id"),
        (_body(check={"id": 1, "name": "nul \x00"}), "check.name"),
    ],
)
def test_a_mapped_field_that_is_not_text_is_a_400(client, url, body, field):
    assert field in api_error(post(client, url, body), 400, "invalid")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"text"'])
def test_a_body_that_is_not_a_json_object_is_a_400(client, url, text):
    api_error(post(client, url, text), 400, "invalid")
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("condition", "state", "resolves"),
    [
        ('state == "ok"', "ok", True),
        ('state == "ok"', "OK", False),
        ("state == true", True, True),
        ("state == true", 1, False),
        ("state in [0, null]", None, True),
        ("state in [0, null]", 0, True),
    ],
)
def test_the_condition_compares_json_values(client, make_integration, condition, state, resolves):
    integration = make_integration("generic", **{**MAPPING, "resolve_when": condition})
    url = f"/api/alerts/generic/{integration.key}/"
    post(client, url, _body())
    post(client, url, _body(state=state))
    assert Incident.objects.get().is_open is not resolves


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title_path": ""}, "title_path", "needs this path"),
        ({"dedup_key_path": ""}, "dedup_key_path", "needs this path"),
        ({"severity_path": "a..b"}, "severity_path", "Not a path"),
        ({"title_path": "a b"}, "title_path", "Not a path"),
        ({"resolve_when": "state = 1"}, "resolve_when", "Not a condition"),
        ({"resolve_when": "state == ok"}, "resolve_when", "Not a JSON value"),
        ({"resolve_when": 'state in "ok"'}, "resolve_when", "JSON list"),
        ({"resolve_when": "state == [1]"}, "resolve_when", "Compare with text"),
        ({"resolve_when": "__import__('os') == 1"}, "resolve_when", "Not a path"),
    ],
)
def test_the_mapping_is_validated_on_save(make_integration, fields, field, message):
    with pytest.raises(ValidationFailed) as raised:
        make_integration("generic", **{**MAPPING, **fields})
    assert message in " ".join(raised.value.fields[field])


def test_the_admin_form_says_what_is_wrong(make_integration):
    integration = make_integration("generic", **MAPPING)
    integration.resolve_when = "state ~ 1"
    with pytest.raises(ValidationError) as raised:
        integration.full_clean()
    assert "resolve_when" in raised.value.message_dict


def test_the_api_adds_a_generic_integration_with_its_mapping(api, manager, service):
    response = api.as_user(manager).post(
        "/api/integrations/",
        {"name": "Checks", "kind": "generic", "service": service.slug, **MAPPING},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url"] == f"http://testserver/api/alerts/generic/{body['key']}/"
    assert body["resolve_when"] == MAPPING["resolve_when"]

    bad = api.as_user(manager).post(
        "/api/integrations/",
        {"name": "Bad", "kind": "generic", "service": service.slug, "title_path": "x"},
        format="json",
    )
    assert "dedup_key_path" in api_error(bad, 400, "invalid")
