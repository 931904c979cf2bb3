"""Alertmanager's webhook: one incident per group, repeats only counted, auto-resolved when
every alert of the group has resolved."""

import pytest
import time_machine

from incidents import services
from incidents.choices import (
    AlertStatus,
    ChangeSource,
    EventType,
    IncidentSource,
    IncidentStatus,
    PayloadOutcome,
    RefireAction,
    ResolutionCode,
    SlaKind,
    SlaTimerState,
)
from incidents.models import Alert, AlertGroup, Incident, ReceivedPayload
from tests.conftest import api_error
from tests.incidents.alert_payloads import payload, post

FIRING = payload("alertmanager_firing")
RESOLVED = payload("alertmanager_resolved")


@pytest.fixture
def integration(make_integration):
    return make_integration()


@pytest.fixture
def url(integration):
    return f"/api/alerts/alertmanager/{integration.key}/"


def _one_incident() -> Incident:
    [incident] = Incident.objects.all()
    return incident


@time_machine.travel("2026-12-03 10:00Z", tick=False)
def test_a_firing_group_opens_one_incident_with_the_severity_s_priority(client, url, service):
    response = post(client, url, FIRING)

    assert response.status_code == 202
    kept = ReceivedPayload.objects.get()
    assert response.json() == {"status": "accepted", "payload": kept.pk}
    incident = _one_incident()
    assert (kept.outcome, kept.group.incident) == ("accepted", incident)
    assert incident.title == "Checkout error rate above 10%"
    assert incident.priority == "P1"  # severity="critical"
    assert incident.source == IncidentSource.ALERT
    assert list(incident.services.all()) == [service]
    assert incident.status == IncidentStatus.NEW
    [created] = incident.events.all()
    assert created.type == EventType.CREATED
    assert created.source == ChangeSource.ALERT
    assert created.actor is None
    group = AlertGroup.objects.get()
    assert (group.incident, group.status, group.alert_count) == (incident, "firing", 2)
    alert = Alert.objects.get(fingerprint="5f0c3a1e8b2d4c7a")
    assert alert.labels["instance"] == "checkout-1:8080"
    assert alert.annotations["runbook_url"] == "https://runbooks.example.com/checkout/errors"
    assert alert.ends_at is None  # Go's zero time
    assert alert.starts_at.isoformat() == "2026-12-03T09:55:00.123456+00:00"
    assert alert.generator_url.startswith("http://prometheus.example.com:9090/graph")
    # The SLA clock and escalation start as for any incident.
    assert incident.sla_timers.filter(kind=SlaKind.ACKNOWLEDGE).exists()
    assert incident.escalation_steps.exists()


def test_firing_then_resolved_is_one_incident_auto_resolved(client, url):
    post(client, url, FIRING)
    response = post(client, url, RESOLVED)

    assert response.status_code == 202
    incident = _one_incident()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolution_code == ResolutionCode.AUTO_RESOLVED
    resolved = incident.events.get(type=EventType.TRANSITION)
    assert resolved.actor is None
    assert resolved.source == ChangeSource.ALERT
    assert resolved.data["transition"] == "resolve"
    assert resolved.data["integration"] == "alertmanager prod"
    assert "all 2 alerts resolved in alertmanager prod" in resolved.summary
    # Nobody acknowledged it, and nobody needs to now: that timer is cancelled, not breached.
    ack = incident.sla_timers.get(kind=SlaKind.ACKNOWLEDGE)
    assert ack.state == SlaTimerState.CANCELLED
    group = AlertGroup.objects.get()
    assert group.status == AlertStatus.RESOLVED
    assert set(Alert.objects.values_list("status", flat=True)) == {"resolved"}


def test_repeats_make_no_incident_and_no_timeline_line(client, url):
    for _ in range(5):
        assert post(client, url, FIRING).status_code == 202

    incident = _one_incident()
    assert incident.events.count() == 1  # created
    group = AlertGroup.objects.get()
    assert (group.received_count, group.alert_count) == (5, 2)
    assert set(Alert.objects.values_list("repeat_count", flat=True)) == {4}
    assert ReceivedPayload.objects.filter(outcome=PayloadOutcome.ACCEPTED).count() == 5


def test_one_line_per_status_change(client, url):
    post(client, url, FIRING)
    one_resolved = payload("alertmanager_firing")
    one_resolved["alerts"][1].update(status="resolved", endsAt="2026-12-03T10:10:00Z")

    post(client, url, one_resolved)
    post(client, url, one_resolved)  # a repeat: no second line

    incident = _one_incident()
    [line] = incident.events.filter(type=EventType.ALERT)
    assert line.summary == "Checkout error rate above 10%: 1 resolved (1 of 2 firing)"
    assert line.data["ended"] == ["9d41b7e02c6f3a85"]
    assert incident.status == IncidentStatus.NEW


def test_a_firing_after_the_resolve_opens_a_new_incident(client, url):
    post(client, url, FIRING)
    post(client, url, RESOLVED)
    post(client, url, FIRING)

    first, second = Incident.objects.order_by("pk")
    assert first.status == IncidentStatus.RESOLVED
    assert second.status == IncidentStatus.NEW
    assert AlertGroup.objects.filter(status="firing").get().incident == second


def test_a_firing_after_the_resolve_reopens_when_the_integration_says_so(client, url, integration):
    integration.on_refire = RefireAction.REOPEN
    integration.save()
    post(client, url, FIRING)
    post(client, url, RESOLVED)
    post(client, url, FIRING)

    incident = _one_incident()
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.reopen_count == 1
    reopened = incident.events.filter(type=EventType.TRANSITION).last()
    assert reopened.data["transition"] == "reopen"
    assert reopened.source == ChangeSource.ALERT


def test_the_integration_may_mitigate_instead(client, url, integration):
    integration.on_clear = "mitigate"
    integration.save()
    post(client, url, FIRING)
    post(client, url, RESOLVED)

    incident = _one_incident()
    assert incident.status == IncidentStatus.MITIGATED
    assert "all 2 alerts resolved" in incident.mitigation_note
    # Firing again while it is still open (mitigated) attaches to it.
    post(client, url, FIRING)
    assert _one_incident().events.filter(type=EventType.ALERT).count() == 1


def test_a_repeat_after_a_manual_resolve_is_not_a_new_firing(client, url, manager, drive):
    post(client, url, FIRING)
    incident = drive(_one_incident(), manager, "acknowledge", "start")
    services.incident_resolve(
        incident=incident,
        actor=manager,
        source=ChangeSource.CLI,
        resolution_code="fixed",
        resolution_notes="patched",
        confirm=True,  # its alerts still fire
    )

    post(client, url, FIRING)  # Alertmanager's repeat_interval: the same alerts, still firing
    assert Incident.objects.count() == 1
    restarted = payload("alertmanager_firing")
    restarted["alerts"][0]["startsAt"] = "2026-12-03T11:00:00Z"
    post(client, url, restarted)
    assert Incident.objects.count() == 2


def test_the_key_may_be_a_bearer_token_and_the_slash_is_optional(client, integration):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {integration.key}"}
    assert post(client, "/api/alerts/alertmanager/", FIRING, **auth).status_code == 202
    assert post(client, "/api/alerts/alertmanager", FIRING, **auth).status_code == 202
    no_slash = f"/api/alerts/alertmanager/{integration.key}"
    assert post(client, no_slash, FIRING).status_code == 202
    assert AlertGroup.objects.get().received_count == 3


@pytest.mark.parametrize("key", ["0" * 32, "short", "z" * 40])
def test_an_unknown_key_is_404(client, integration, key):
    api_error(post(client, f"/api/alerts/alertmanager/{key}/", FIRING), 404, "not_found")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    api_error(post(client, "/api/alerts/alertmanager/", FIRING, **auth), 404, "not_found")
    assert not Incident.objects.exists()


def test_an_inactive_integration_or_another_kind_s_endpoint_is_404(
    client, integration, make_integration
):
    grafana = make_integration("grafana")
    api_error(post(client, f"/api/alerts/alertmanager/{grafana.key}/", FIRING), 404, "not_found")
    integration.active = False
    integration.save()
    api_error(
        post(client, f"/api/alerts/alertmanager/{integration.key}/", FIRING), 404, "not_found"
    )


def _without(name: str) -> dict:
    body = payload("alertmanager_firing")
    del body[name]
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without("groupKey"), "groupKey"),
        (_without("alerts"), "alerts"),
        (payload("alertmanager_firing", alerts=[]), "alerts"),
        (payload("alertmanager_firing", status="burning"), "status"),
        (
            payload("alertmanager_firing", alerts=[{"status": "firing", "labels": []}]),
            "alerts[0].labels",
        ),
        (
            payload("alertmanager_firing", alerts=[{"status": "firing", "startsAt": "soon"}]),
            "alerts[0].startsAt",
        ),
        (payload("alertmanager_firing", commonLabels={"a\x00b": "x"}), "commonLabels"),
        (payload("alertmanager_firing", groupKey="nul \x00"), "groupKey"),
        (payload("alertmanager_firing", truncatedAlerts=-1), "truncatedAlerts"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_kept(client, url, body, field):
    fields = api_error(post(client, url, body), 400, "invalid")
    assert field in fields
    assert not Incident.objects.exists()
    kept = ReceivedPayload.objects.get()
    assert kept.outcome == PayloadOutcome.INVALID
    assert field in kept.error


@pytest.mark.parametrize("text", ["not json", "[1, 2]", "[" * 100_000, '"\\ud800"'])
def test_a_body_that_is_not_a_payload_is_a_400(client, url, text):
    response = post(client, url, text)
    assert response.status_code == 400
    assert not Incident.objects.exists()


def test_fields_a_newer_alertmanager_adds_are_accepted(client, url):
    body = payload("alertmanager_firing", notification_reason="new", routeLabels={"team": "x"})
    assert post(client, url, body).status_code == 202


def test_a_body_over_512_kb_is_413(client, url):
    body = payload("alertmanager_firing", receiver="x" * 530_000)
    api_error(post(client, url, body), 413, "too_large")
    assert not Incident.objects.exists()


def test_only_post_is_taken(client, url):
    api_error(client.get(url), 405, "method_not_allowed")


def test_no_session_or_csrf_token_is_needed(url, integration):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post(strict, url, FIRING).status_code == 202


def test_a_new_alert_of_the_group_is_one_line_on_the_same_incident(client, url):
    post(client, url, FIRING)
    grown = payload("alertmanager_firing")
    third = {**grown["alerts"][0], "fingerprint": "0e1f2a3b4c5d6e7f"}
    third["labels"] = {**third["labels"], "instance": "checkout-3:8080"}
    grown["alerts"].append(third)

    post(client, url, grown)
    post(client, url, grown)

    incident = _one_incident()
    [line] = incident.events.filter(type=EventType.ALERT)
    assert line.summary == "Checkout error rate above 10%: 1 alert firing (3 of 3 firing)"
    assert AlertGroup.objects.get().alert_count == 3


def test_a_group_with_alerts_left_out_is_not_cleared(client, url):
    post(client, url, FIRING)
    partial = payload("alertmanager_resolved", status="firing", truncatedAlerts=4)

    post(client, url, partial)

    assert _one_incident().status == IncidentStatus.NEW
    assert AlertGroup.objects.get().status == AlertStatus.FIRING


def test_the_resolve_s_side_effects_run_as_for_any_resolve(
    client, url, django_capture_on_commit_callbacks
):
    from postmortems.models import PostIncidentReview

    with django_capture_on_commit_callbacks(execute=True):
        post(client, url, FIRING)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, url, RESOLVED)

    incident = _one_incident()
    assert incident.status == IncidentStatus.RESOLVED
    # A P1's review is drafted on its resolution, automatic or not.
    assert PostIncidentReview.objects.filter(incident=incident).exists()
