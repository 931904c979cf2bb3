"""An alert routing rule that says "declare a major incident": the reference's automated SEV1
trigger on `severity="critical"` for authentication or payment services. The room opens in the
transaction that opened the incident, staffed as the declaration rules staff it."""

import pytest

from incidents.alerts.services import integration_create
from incidents.choices import EventType, IntegrationKind
from incidents.models import Incident, RoutingRule
from itsm.models import Notification
from tests.factories import ServiceFactory
from tests.incidents.alert_payloads import incident_of, payload, post
from warroom import rules
from warroom.choices import DeclarationTrigger
from warroom.models import DeclarationRule, MajorIncident


@pytest.fixture
def payments(db):
    return ServiceFactory(slug="payments", name="Payments")


@pytest.fixture
def make_integration(service):
    return lambda: integration_create(
        actor=None, kind=IntegrationKind.ALERTMANAGER, service=service, name="Prometheus"
    )


@pytest.fixture
def sev1_rule(payments):
    return RoutingRule.objects.create(
        name="SEV1 payments",
        matchers='severity="critical", job=~"checkout|auth"',
        service=payments,
        priority="P1",
        declare_major=True,
    )


def _fire(client, make_integration) -> Incident:
    integration = make_integration()
    response = post(
        client, f"/api/alerts/alertmanager/{integration.key}/", payload("alertmanager_firing")
    )
    assert response.status_code == 202, response.content
    return incident_of(response)


def test_the_rule_declares_and_pages_the_fallback_manager(
    client, make_integration, sev1_rule, manager
):
    DeclarationRule.objects.filter(kind="unacknowledged").update(manager=manager)

    incident = _fire(client, make_integration)

    major = MajorIncident.objects.get(incident=incident)
    assert major.trigger == DeclarationTrigger.ALERT_RULE
    assert major.trigger_detail == "alert routing rule “SEV1 payments”"
    assert major.manager == manager
    assert incident.number in major.initial_impact_statement
    paged = Notification.objects.filter(subject__contains="You are the major incident manager")
    assert {n.recipient for n in paged} == {manager}


def test_with_nobody_to_name_the_room_opens_and_the_timeline_says_why(
    client, make_integration, sev1_rule
):
    incident = _fire(client, make_integration)

    major = MajorIncident.objects.get(incident=incident)
    assert major.manager is None
    assert incident.events.filter(summary__contains="No major incident manager").exists()


def test_repeats_declare_nothing_more(client, make_integration, sev1_rule):
    integration = make_integration()
    url = f"/api/alerts/alertmanager/{integration.key}/"
    for _ in range(3):
        assert post(client, url, payload("alertmanager_firing")).status_code == 202

    assert MajorIncident.objects.count() == 1


def test_a_failing_declaration_leaves_the_incident_opened_and_says_so(
    client, make_integration, sev1_rule, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("the war room is broken")

    monkeypatch.setattr(rules, "declare_for_alert_rule", broken)

    incident = _fire(client, make_integration)

    assert not MajorIncident.objects.exists()
    said = incident.events.filter(type=EventType.ALERT).values_list("summary", flat=True)
    assert "The rule “SEV1 payments” could not declare it a major incident: declare it by hand" in (
        list(said)
    )
