"""Alert routing rules: ordered, admin-edited label matchers that send a new alert incident to a
service, a team and a priority, and may declare it major (tests/warroom has the declaring)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents.alerts import matchers
from incidents.choices import EventType, IntegrationKind
from incidents.models import Incident, RoutingRule
from tests.factories import ServiceFactory, TeamFactory
from tests.incidents.alert_payloads import incident_of, payload, post

FIRING = payload("alertmanager_firing")  # severity="critical", job="checkout"


@pytest.fixture
def alertmanager(make_integration):
    return make_integration()


@pytest.fixture
def auth(db):
    return ServiceFactory(slug="auth", name="Authentication")


@pytest.fixture
def identity_team(db):
    return TeamFactory(slug="identity", name="Identity")


def _fire(client, integration, body=FIRING) -> Incident:
    response = post(client, f"/api/alerts/alertmanager/{integration.key}/", body)
    assert response.status_code == 202, response.content
    return incident_of(response)


def _rule(name, matchers_="", **fields) -> RoutingRule:
    rule = RoutingRule(name=name, matchers=matchers_, **fields)
    rule.full_clean()
    rule.save()
    return rule


@pytest.mark.parametrize(
    ("text", "labels", "holds"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('severity!="critical"', {}, True),  # absent is empty
        ('service=~"auth|payment"', {"service": "payment"}, True),
        ('service=~"auth|payment"', {"service": "payments"}, False),  # anchored
        ('service!~"auth.*"', {"service": "authz"}, False),
        ('{severity="critical", job=~"check.*"}', {"severity": "critical", "job": "db"}, False),
        ('{ job=~"check.*" }', {"job": "checkout"}, True),
        ('severity="critical",job="db"', {"severity": "critical", "job": "checkout"}, False),
        ('summary="a \\"quoted\\" word"', {"summary": 'a "quoted" word'}, True),
        ("env=prod", {"env": "prod"}, True),
        ("", {"anything": "x"}, True),
    ],
)
def test_matchers_read_as_alertmanager_reads_them(text, labels, holds):
    assert matchers.all_hold(matchers.parse(text), labels) is holds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('service=~"auth(("', "is not a regular expression"),
        ("severity", "Cannot read a matcher"),
        ('severity=="x"', "Cannot read a matcher"),
        ('severity="critical" job="x"', "Cannot read a matcher"),
    ],
)
def test_a_bad_matcher_is_refused_on_save_with_the_reason(db, text, message):
    with pytest.raises(ValidationError) as refused:
        _rule("bad", text)
    assert message in " ".join(refused.value.message_dict["matchers"])


def test_a_matching_rule_sets_service_team_and_priority_and_says_so(
    client, alertmanager, auth, identity_team
):
    _rule(
        "Critical checkout is identity's",
        'severity="critical", job=~"checkout|payments"',
        service=auth,
        team=identity_team,
        priority="P2",
    )

    incident = _fire(client, alertmanager)

    assert list(incident.services.all()) == [auth]
    assert incident.team == identity_team
    assert incident.priority == "P2"
    routed = incident.events.get(type=EventType.ALERT)
    assert routed.summary == (
        "Routed by the rule “Critical checkout is identity's”: Authentication, P2, Identity"
    )


def test_what_a_rule_leaves_empty_comes_from_the_service_and_the_severity(
    client, alertmanager, auth, identity_team
):
    auth.owner_team = identity_team
    auth.save()
    _rule("Checkout alerts are auth's", 'job="checkout"', service=auth)

    incident = _fire(client, alertmanager)

    assert list(incident.services.all()) == [auth]
    assert incident.team == identity_team  # the rule's service's owner
    assert incident.priority == "P1"  # severity critical


def test_the_first_enabled_rule_in_order_wins(client, alertmanager, make_integration, auth):
    other = ServiceFactory(slug="other")
    elsewhere = make_integration(IntegrationKind.GRAFANA, name="grafana prod")
    _rule("Disabled", 'severity="critical"', position=0, enabled=False, priority="P4")
    _rule("Another integration's", "", position=1, integration=elsewhere, priority="P4")
    _rule("Second", 'severity="critical"', position=3, service=other)
    _rule("First", 'alertname="CheckoutHighErrorRate"', position=2, service=auth)

    incident = _fire(client, alertmanager)

    assert list(incident.services.all()) == [auth]
    assert "“First”" in incident.events.get(type=EventType.ALERT).summary


def test_a_rule_holds_when_one_firing_alert_matches(client, alertmanager, auth):
    body = payload("alertmanager_firing")
    body["alerts"][1]["labels"] = {**body["alerts"][1]["labels"], "instance": "checkout-canary"}
    _rule("Canary", 'instance="checkout-canary"', service=auth)

    assert list(_fire(client, alertmanager, body).services.all()) == [auth]


def test_without_a_matching_rule_the_integration_decides(client, alertmanager, service, auth):
    _rule("Warnings to auth", 'severity="warning"', service=auth)

    incident = _fire(client, alertmanager)

    assert list(incident.services.all()) == [service]
    assert incident.priority == "P1"
    assert not incident.events.filter(type=EventType.ALERT).exists()


def test_a_payload_severity_that_is_no_label_is_matched(client, make_integration, auth):
    """PagerDuty's severity is a field of the payload: rules match it as `severity`."""
    pagerduty = make_integration(IntegrationKind.PAGERDUTY, name="pd")
    _rule("Errors from the API", 'severity="error", source=~"api-.*"', service=auth)
    event = payload("pagerduty_trigger", routing_key=pagerduty.key)
    event["payload"] = {**event["payload"], "severity": "error", "source": "api-7"}

    response = post(client, "/api/alerts/v2/enqueue", event)

    assert response.status_code == 202
    incident = Incident.objects.get()
    assert list(incident.services.all()) == [auth]
    assert incident.priority == "P2"


def test_repeats_and_refiring_into_an_open_incident_are_not_routed_again(
    client, alertmanager, auth
):
    incident = _fire(client, alertmanager)
    _rule("Late rule", 'severity="critical"', service=auth, priority="P4")

    assert _fire(client, alertmanager) == incident
    incident.refresh_from_db()
    assert incident.priority == "P1"


def test_a_manager_adds_a_rule_in_the_admin_and_a_bad_one_is_refused(client, manager, auth):
    client.force_login(manager)
    url = reverse("admin:incidents_routingrule_add")
    form = {
        "position": 1,
        "name": "SEV1 auth",
        "enabled": "on",
        "matchers": 'severity="critical", service=~"auth|payment"',
        "service": auth.pk,
        "priority": "P1",
        "declare_major": "on",
    }

    bad = client.post(url, {**form, "matchers": 'service=~"auth|("'}, secure=True)
    assert bad.status_code == 200
    assert "is not a regular expression" in bad.content.decode()
    assert not RoutingRule.objects.exists()

    good = client.post(url, form, secure=True)
    assert good.status_code == 302
    rule = RoutingRule.objects.get()
    assert (rule.service, rule.priority, rule.declare_major) == (auth, "P1", True)
    listing = client.get(reverse("admin:incidents_routingrule_changelist"), secure=True)
    assert "SEV1 auth" in listing.content.decode()


def test_a_responder_cannot_edit_rules(client, responder):
    client.force_login(responder)
    response = client.get(reverse("admin:incidents_routingrule_changelist"), secure=True)
    assert response.status_code in (302, 403)
