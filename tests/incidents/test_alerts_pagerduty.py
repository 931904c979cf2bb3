"""PagerDuty's Events API v2 at /api/alerts/v2/enqueue, answered exactly as PagerDuty does, so
that anything that can page PagerDuty pages the portal by changing one URL."""

import pytest

from incidents import services
from incidents.choices import ChangeSource, EventType, IncidentStatus, ResolutionCode
from incidents.models import AlertGroup, Incident
from tests.incidents.alert_payloads import payload, post

URL = "/api/alerts/v2/enqueue"
INVALID = {"status": "invalid event", "message": "Event object is invalid"}


@pytest.fixture
def pd(make_integration):
    return make_integration("pagerduty")


def _event(name: str, integration, **changes) -> dict:
    return payload(name, routing_key=integration.key, **changes)


def test_trigger_then_resolve_answers_as_pagerduty_and_auto_resolves(client, pd):
    response = post(client, URL, _event("pagerduty_trigger", pd))

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "db-primary/connections",
    }
    incident = Incident.objects.get()
    assert incident.priority == "P2"  # severity "error"
    assert incident.title == "Database connection failures on db-primary"
    assert "component: postgres" in incident.description
    assert '"failed_connections_per_minute": 412' in incident.description
    group = AlertGroup.objects.get()
    assert group.key == "db-primary/connections"
    assert group.alerts.get().generator_url == "http://alertmanager.example.com:9093/#/alerts"

    response = post(client, URL, _event("pagerduty_resolve", pd))
    assert response.status_code == 202
    assert response.json()["dedup_key"] == "db-primary/connections"
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolution_code == ResolutionCode.AUTO_RESOLVED


def test_the_path_takes_a_trailing_slash_too(client, pd):
    assert post(client, URL + "/", _event("pagerduty_trigger", pd)).status_code == 202


def test_a_trigger_without_a_dedup_key_gets_one(client, pd):
    event = _event("pagerduty_trigger", pd)
    del event["dedup_key"]

    response = post(client, URL, event)

    assert response.status_code == 202
    key = response.json()["dedup_key"]
    assert len(key) == 32
    assert AlertGroup.objects.get().key == key


def test_repeated_triggers_are_one_incident(client, pd):
    for _ in range(3):
        post(client, URL, _event("pagerduty_trigger", pd))
    assert Incident.objects.count() == 1
    assert Incident.objects.get().events.count() == 1


def test_a_trigger_after_the_resolve_is_a_new_incident(client, pd):
    post(client, URL, _event("pagerduty_trigger", pd))
    post(client, URL, _event("pagerduty_resolve", pd))
    post(client, URL, _event("pagerduty_trigger", pd))
    assert list(Incident.objects.order_by("pk").values_list("status", flat=True)) == [
        "resolved",
        "new",
    ]


def test_a_resolve_of_an_unknown_key_is_processed_and_changes_nothing(client, pd):
    response = post(client, URL, _event("pagerduty_resolve", pd, dedup_key="nothing"))
    assert response.status_code == 202
    assert not Incident.objects.exists()


def test_acknowledge_acknowledges_an_assigned_incident(client, pd, responder):
    post(client, URL, _event("pagerduty_trigger", pd))
    incident = Incident.objects.get()
    services.incident_update(
        incident=incident, actor=responder, source=ChangeSource.CLI, assignee=responder
    )

    ack = {
        "routing_key": pd.key,
        "event_action": "acknowledge",
        "dedup_key": "db-primary/connections",
    }
    assert post(client, URL, ack).status_code == 202

    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.assignee == responder


def test_acknowledge_with_nobody_assigned_is_a_timeline_line(client, pd):
    post(client, URL, _event("pagerduty_trigger", pd))
    ack = {
        "routing_key": pd.key,
        "event_action": "acknowledge",
        "dedup_key": "db-primary/connections",
    }

    assert post(client, URL, ack).status_code == 202
    assert post(client, URL, ack).status_code == 202  # a repeat: no second line

    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.NEW
    line = incident.events.get(type=EventType.ALERT)
    assert "nobody is assigned" in line.summary


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"event_action": "explode"}, "'event_action' \"explode\" is not a valid choice."),
        (
            {"payload": {"source": "db", "severity": "error"}},
            "'payload.summary' this field is required.",
        ),
        (
            {"payload": {"summary": "x", "source": "db", "severity": "fatal"}},
            "'payload.severity' \"fatal\" is not a valid choice.",
        ),
        ({"event_action": "resolve", "dedup_key": ""}, "'dedup_key' this field may not be blank."),
        ({"links": [{"text": "no href"}]}, "'links[0].href' this field is required."),
    ],
)
def test_an_invalid_event_is_400_as_pagerduty_words_it(client, pd, change, error):
    response = post(client, URL, _event("pagerduty_trigger", pd, **change))

    assert response.status_code == 400
    assert response.json() == {**INVALID, "errors": [error]}
    assert not Incident.objects.exists()


@pytest.mark.parametrize("body", ["not json", "[]", '{"event_action": "trigger"}'])
def test_a_body_that_is_not_an_event_is_400(client, pd, body):
    response = post(client, URL, body)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert response.json()["errors"]


def test_an_unknown_routing_key_is_404(client, pd, make_integration):
    alertmanager = make_integration()
    for key in ("f" * 32, alertmanager.key):
        response = post(client, URL, payload("pagerduty_trigger", routing_key=key))
        assert response.status_code == 404
        assert response.json() == {**INVALID, "errors": ["Unknown routing key"]}


def test_a_routing_key_that_is_not_a_string_is_400(client, pd):
    response = post(client, URL, payload("pagerduty_trigger", routing_key=12345))
    assert response.status_code == 400
    assert response.json() == {**INVALID, "errors": ["'routing_key' must be a string."]}


def test_the_routing_key_may_be_a_bearer_token(client, pd):
    event = payload("pagerduty_trigger")
    del event["routing_key"]
    response = post(client, URL, event, HTTP_AUTHORIZATION=f"Bearer {pd.key}")
    assert response.status_code == 202
