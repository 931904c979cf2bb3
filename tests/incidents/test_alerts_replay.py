"""Replaying a received payload: a manager fixes a generic mapping and runs again what it
refused, through the integration's current parsing; the original payload stays as it was."""

import hashlib
import hmac
import json

import pytest
from django.urls import reverse

from incidents.alerts import drain
from incidents.alerts.services import received_payload_replay
from incidents.choices import PayloadOutcome
from incidents.models import Incident, ReceivedPayload
from itsm.errors import PermissionDeniedError
from itsm.roles import Role
from tests.conftest import api_error
from tests.incidents.alert_payloads import payload, post

BODY = {"check": {"id": 4711, "name": "Disk almost full on db-1"}, "level": "critical"}


@pytest.fixture
def generic(make_integration):
    """A generic integration whose title path is wrong: `check.title` is not in the body."""
    return make_integration("generic", title_path="check.title", dedup_key_path="check.id")


@pytest.fixture
def refused(client, generic):
    response = post(client, f"/api/alerts/generic/{generic.key}/", BODY)
    assert response.status_code == 400
    return ReceivedPayload.objects.get(outcome=PayloadOutcome.INVALID)


def _fix_mapping(integration):
    integration.title_path = "check.name"
    integration.save()


def test_a_refused_payload_replayed_after_the_mapping_is_fixed_opens_one_incident(
    refused, generic, manager
):
    again = received_payload_replay(payload=refused, actor=manager)
    assert again.outcome == PayloadOutcome.INVALID
    assert "check.title" in again.error
    assert not Incident.objects.exists()

    _fix_mapping(generic)
    first = received_payload_replay(payload=refused, actor=manager)
    second = received_payload_replay(payload=refused, actor=manager)

    incident = Incident.objects.get()  # the second replay is a repeat: deduplicated
    assert incident.title == "Disk almost full on db-1"
    assert incident.priority == "P3"  # the mapping has no severity path
    assert (first.outcome, second.outcome) == (PayloadOutcome.ACCEPTED, PayloadOutcome.ACCEPTED)
    assert first.group == second.group and first.group.incident == incident
    assert second.group.received_count == 2
    assert {first.replay_of_id, second.replay_of_id} == {refused.pk}
    refused.refresh_from_db()
    assert (refused.outcome, refused.group) == (PayloadOutcome.INVALID, None)


def test_a_replayed_alertmanager_payload_is_a_repeat(client, make_integration, manager):
    integration = make_integration()
    post(client, f"/api/alerts/alertmanager/{integration.key}/", payload("alertmanager_firing"))
    kept = ReceivedPayload.objects.get()

    replayed = received_payload_replay(payload=kept, actor=manager)

    assert replayed.outcome == PayloadOutcome.ACCEPTED
    assert Incident.objects.count() == 1
    assert replayed.group.received_count == 2


def test_a_replay_while_a_worker_holds_the_integration_waits_for_that_worker(
    client, make_integration, manager, monkeypatch
):
    integration = make_integration()
    post(client, f"/api/alerts/alertmanager/{integration.key}/", payload("alertmanager_firing"))
    kept = ReceivedPayload.objects.get()
    monkeypatch.setattr(drain, "_batch_apply", lambda *args: None)  # another drainer holds it

    replayed = received_payload_replay(payload=kept, actor=manager)

    assert (replayed.outcome, replayed.replay_of) == (PayloadOutcome.PENDING, kept)
    monkeypatch.undo()
    assert drain.payloads_drain() == 1  # the worker's next drain applies it
    replayed.refresh_from_db()
    assert replayed.outcome == PayloadOutcome.ACCEPTED


def test_a_pagerduty_payload_is_replayed_as_its_endpoint_reads_it(
    client, make_integration, manager
):
    integration = make_integration("pagerduty")
    event = {**payload("pagerduty_trigger"), "routing_key": integration.key}
    event["payload"] = {**event["payload"], "severity": "fatal"}
    assert post(client, "/api/alerts/v2/enqueue", event).status_code == 400
    refused = ReceivedPayload.objects.get()

    again = received_payload_replay(payload=refused, actor=manager)

    assert again.outcome == PayloadOutcome.INVALID
    assert again.error == refused.error
    assert "'payload.severity'" in again.error


def test_a_bad_signature_is_refused_again_until_the_secret_is_right(
    client, make_integration, manager
):
    grafana = make_integration(
        "grafana", signature_header="X-Signature", signature_secret="wrong-secret"
    )
    body = payload("grafana_firing")
    text = json.dumps(body)
    signature = hmac.new(b"right-secret", text.encode(), hashlib.sha256).hexdigest()
    response = post(client, f"/api/alerts/grafana/{grafana.key}/", text, HTTP_X_SIGNATURE=signature)
    assert response.status_code == 401
    refused = ReceivedPayload.objects.get()

    assert received_payload_replay(payload=refused, actor=manager).outcome == "bad_signature"
    grafana.signature_secret = "right-secret"
    grafana.save()
    assert received_payload_replay(payload=refused, actor=manager).outcome == "accepted"
    assert Incident.objects.count() == 1


def test_only_those_who_manage_integrations_replay(refused, responder):
    with pytest.raises(PermissionDeniedError):
        received_payload_replay(payload=refused, actor=responder)

    assert ReceivedPayload.objects.count() == 1


def test_the_admin_action_replays_and_says_what_became_of_each(client, manager, refused, generic):
    client.force_login(manager)
    url = reverse("admin:incidents_receivedpayload_changelist")
    action = {"action": "replay", "_selected_action": [refused.pk]}

    html = client.post(url, action, follow=True).content.decode()
    assert f"Payload #{refused.pk} was refused again" in html
    assert "check.title" in html

    _fix_mapping(generic)
    html = client.post(url, action, follow=True).content.decode()
    incident = Incident.objects.get()
    assert f"Payload #{refused.pk} replayed: accepted ({incident.number})." in html


def test_the_admin_offers_no_replay_to_who_may_not(client, stakeholder, refused):
    stakeholder.is_staff = True
    stakeholder.save()
    client.force_login(stakeholder)

    response = client.get(reverse("admin:incidents_receivedpayload_changelist"))

    assert "Replay selected payloads" not in response.content.decode()


def test_a_manager_replays_through_the_api(api, manager, refused, generic):
    _fix_mapping(generic)

    response = api.as_user(manager).post(f"/api/alerts/payloads/{refused.pk}/replay/")

    assert response.status_code == 201, response.content
    body = response.json()
    incident = Incident.objects.get()
    assert body["outcome"] == "accepted" and body["replay_of"] == refused.pk
    assert body["incident"] == incident.number
    assert body["integration"] == {"id": generic.pk, "name": generic.name, "kind": "generic"}


def test_only_managers_replay_through_the_api(api, make_user, refused):
    url = f"/api/alerts/payloads/{refused.pk}/replay/"
    for role in (Role.RESPONDER, Role.STAKEHOLDER, Role.SUPER_ADMIN):
        client = api.as_user(make_user(f"user-{role}", roles=[role]))
        expected = 201 if role == Role.SUPER_ADMIN else 403
        assert client.post(url).status_code == expected, role
    api_error(api.post("/api/alerts/payloads/999999/replay/"), 404, "not_found")
    assert set(api_error(api.post(url, {"x": 1}, format="json"), 400, "invalid")) == {"x"}


def test_a_pagerduty_trigger_without_a_dedup_key_is_replayed_under_the_key_it_was_given(
    client, make_integration, manager
):
    integration = make_integration("pagerduty")
    event = {**payload("pagerduty_trigger"), "routing_key": integration.key}
    event.pop("dedup_key", None)
    response = post(client, "/api/alerts/v2/enqueue", event)
    key = response.json()["dedup_key"]
    kept = ReceivedPayload.objects.get()

    replayed = received_payload_replay(payload=kept, actor=manager)

    assert replayed.group_key == key  # the key the sender was answered, not a new one
    assert Incident.objects.count() == 1
    assert replayed.group == kept.group


def test_an_inactive_integrations_payload_is_not_replayed(api, client, manager, refused, generic):
    _fix_mapping(generic)
    generic.active = False
    generic.save()

    response = api.as_user(manager).post(f"/api/alerts/payloads/{refused.pk}/replay/")
    api_error(response, 409, "conflict")
    assert "inactive" in response.json()["error"]["message"]
    client.force_login(manager)
    action = {"action": "replay", "_selected_action": [refused.pk]}
    url = reverse("admin:incidents_receivedpayload_changelist")
    html = client.post(url, action, follow=True).content.decode()
    assert f"Payload #{refused.pk}: The payload&#x27;s integration is inactive" in html
    assert ReceivedPayload.objects.count() == 1 and not Incident.objects.exists()
