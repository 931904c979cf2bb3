"""/metrics: who may scrape it (a bearer token, allowed networks, off when neither is set), the
Prometheus text format, the notifications' figures, and a constant number of queries."""

import ipaddress

import pytest
from prometheus_client.parser import text_string_to_metric_families

from incidents.alerts.services import integration_create
from incidents.choices import IntegrationKind, PayloadOutcome
from incidents.models import ReceivedPayload
from itsm.choices import NotificationChannel, NotificationStatus
from itsm.models import Notification
from tests.conftest import METRICS_TOKEN, TEST_CLIENT_ADDRESS, sample, start_refused
from tests.factories import make_incident
from warroom import services as warroom

pytestmark = pytest.mark.django_db

FAMILIES = {
    "itsm_incidents": "gauge",
    "itsm_sla_timers_open": "gauge",
    "itsm_sla_breaches": "gauge",
    "itsm_incident_acknowledge_seconds": "histogram",
    "itsm_incident_resolve_seconds": "histogram",
    "itsm_alert_payloads_last_hour": "gauge",
    "itsm_alert_groups_firing": "gauge",
    "itsm_major_incidents": "gauge",
    "itsm_notifications": "gauge",
    "itsm_notifications_pending": "gauge",
}
# Aggregate queries: incidents (counts, histograms), SLA timers (open, breached), payloads,
# alert groups, major incidents, notifications.
SCRAPE_QUERIES = 8


def networks(*cidrs):
    return [ipaddress.ip_network(cidr) for cidr in cidrs]


def get(client, token=None, address=TEST_CLIENT_ADDRESS, **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get("/metrics", secure=True, REMOTE_ADDR=address, **headers)


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    return METRICS_TOKEN


# --- who may scrape ------------------------------------------------------------------------------


def test_metrics_are_off_until_a_token_or_a_network_is_set(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []
    assert get(client).status_code == 404
    assert get(client, METRICS_TOKEN).status_code == 404


@pytest.mark.parametrize(
    "header",
    [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Basic {METRICS_TOKEN}"}],
    ids=["no token", "wrong token", "not a bearer"],
)
def test_a_scrape_without_the_token_is_refused(client, token, header):
    response = get(client, **header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert b"itsm_" not in response.content


def test_the_token_opens_the_metrics_in_prometheus_text_format(client, token):
    response = get(client, token)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    families = text_string_to_metric_families(response.content.decode())
    assert {family.name: family.type for family in families} == FAMILIES


def test_an_address_guessing_tokens_is_made_to_wait(client, token, settings):
    settings.API_AUTH_FAILURE_LIMIT = 2
    assert [get(client, "guess").status_code for _ in range(2)] == [401, 401]

    refused = get(client, token)

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


def test_an_allowed_network_scrapes_without_a_token(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", networks("10.8.0.0/16")

    assert get(client, address="10.8.3.4").status_code == 200
    assert get(client, address="::ffff:10.8.3.4").status_code == 200
    assert get(client, address="10.9.0.1").status_code == 403
    assert get(client, address="2001:db8::1").status_code == 403


def test_with_both_set_a_scrape_needs_both(client, token, settings):
    settings.METRICS_ALLOWED_NETWORKS = networks("10.8.0.0/16", "2001:db8::/32")

    assert get(client, token, address="2001:db8::7").status_code == 200
    assert get(client, address="2001:db8::7").status_code == 401
    assert get(client, token, address="192.0.2.1").status_code == 403


def test_a_signed_in_session_is_not_enough(client, token, manager):
    client.force_login(manager)
    assert get(client).status_code == 401


def test_metrics_answer_get_only(client, token):
    response = client.post("/metrics", secure=True, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 32 characters"),
        ({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,10.0.0.300"}, "METRICS_ALLOWED_NETWORKS"),
    ],
)
def test_the_portal_will_not_start_with_broken_metrics_settings(environment, message):
    assert message in start_refused(environment)


# --- what it shows -------------------------------------------------------------------------------


def notification(channel, status, n=1):
    Notification.objects.bulk_create(
        Notification(channel=channel, status=status, subject="P1 opened") for _ in range(n)
    )


def test_notifications_are_counted_by_channel_and_outcome(scrape):
    C, S = NotificationChannel, NotificationStatus
    notification(C.EMAIL, S.SENT, 3)
    notification(C.SLACK, S.FAILED)
    notification(C.IN_APP, S.PENDING, 2)

    samples = scrape()

    sent = {ch: sample(samples, "itsm_notifications", channel=ch, outcome="sent") for ch in C}
    assert sent == {C.EMAIL: 3, C.SLACK: 0, C.TEAMS: 0, C.IN_APP: 0}
    assert sample(samples, "itsm_notifications", channel="slack", outcome="failed") == 1
    assert sample(samples, "itsm_notifications_pending", channel="in_app") == 2
    assert sample(samples, "itsm_notifications_pending", channel="email") == 0


def some_of_everything(n, *, actor, manager, service, integration, drive):
    """`n` incidents in several states, one of them major, with notifications and payloads."""
    for i in range(n):
        incident = make_incident(actor=actor, services=[service.slug])
        drive(incident, actor, *["acknowledge", "start", "mitigate", "resolve"][: i % 5])
        notification(NotificationChannel.EMAIL, NotificationStatus.SENT)
        ReceivedPayload.objects.create(integration=integration, outcome=PayloadOutcome.ACCEPTED)
    p1 = make_incident(actor=actor, services=[service.slug], impact=1, urgency=1)
    warroom.major_incident_declare(
        incident=p1, actor=manager, source="cli", manager=manager, initial_impact_statement="Down"
    )


def test_a_scrape_costs_the_same_queries_whatever_the_data_size(
    client, token, responder, manager, service, drive, django_assert_num_queries
):
    integration = integration_create(
        actor=None, kind=IntegrationKind.GRAFANA, service=service, name="grafana"
    )
    sizes = []
    for n in (2, 12):
        some_of_everything(
            n,
            actor=responder,
            manager=manager,
            service=service,
            integration=integration,
            drive=drive,
        )
        with django_assert_num_queries(SCRAPE_QUERIES):
            response = get(client, token)
        sizes.append(response.content.count(b"\n"))

    assert sizes[0] == sizes[1]  # the same series, only the values differ
