"""The official `pagerduty` Python client (its Events API v2 client) pages the portal once its
base URL is ours: the portal, served by uvicorn over HTTPS (the client takes nothing else) on
the test database, answers it as PagerDuty would, and the incident opens, is acknowledged per
the portal's rules and resolves itself."""

import pagerduty
import pytest

from incidents import services
from incidents.choices import ChangeSource, EventType, IncidentStatus, ResolutionCode
from incidents.models import AlertGroup, Incident
from tests.browser import AsgiServer, Tls, free_port

PORTS = range(19500, 19600)
DEDUP_KEY = "checkout/payment-errors"

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def tls_server(tmp_path):
    tls = Tls.make(tmp_path)
    server = AsgiServer(free_port(PORTS), tmp_path / "server.log", tls=tls)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(tls_server, make_integration):
    integration = make_integration("pagerduty")
    events = pagerduty.EventsApiV2Client(
        integration.key,
        base_url=f"{tls_server.url}/api/alerts",  # it posts to {base_url}/v2/enqueue
        verify=tls_server.tls.client_context(),
    )
    yield events
    events.close()


def trigger(events: pagerduty.EventsApiV2Client) -> str:
    """A trigger with every optional field the Events API v2 has."""
    return events.trigger(
        "Payment errors above 5 % on checkout",
        "checkout-api-1",
        dedup_key=DEDUP_KEY,
        severity="critical",
        payload={
            "timestamp": "2026-12-04T00:10:00.000+00:00",
            "component": "payments",
            "group": "checkout",
            "class": "http-errors",
        },
        custom_details={"error_rate": 0.071, "region": "eu-west-1"},
        links=[{"href": "https://grafana.example.org/d/checkout", "text": "Checkout dashboard"}],
        images=[
            {
                "src": "https://grafana.example.org/render/checkout.png",
                "href": "https://grafana.example.org/d/checkout",
                "alt": "Error rate",
            }
        ],
    )


def alert_lines(incident: Incident) -> list[str]:
    return list(incident.events.filter(type=EventType.ALERT).values_list("summary", flat=True))


def test_the_official_client_opens_acknowledges_and_resolves_an_incident(client, responder):
    assert trigger(client) == DEDUP_KEY  # our 202, read by the client
    incident = Incident.objects.get()
    assert incident.title == "Payment errors above 5 % on checkout"
    assert incident.priority == "P1"
    assert incident.status == IncidentStatus.NEW
    for text in ("checkout-api-1", "payments", "http-errors", '"region": "eu-west-1"'):
        assert text in incident.description
    alert = AlertGroup.objects.get(key=DEDUP_KEY).alerts.get()
    assert alert.generator_url == "https://grafana.example.org/d/checkout"

    assert trigger(client) == DEDUP_KEY  # a repeat: counted, nothing else
    assert Incident.objects.count() == 1
    assert AlertGroup.objects.get().received_count == 2

    assert client.acknowledge(DEDUP_KEY) == DEDUP_KEY  # nobody assigned: it stays new
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.NEW
    assert alert_lines(incident) == [
        "Acknowledged in pagerduty prod; nobody is assigned, so it stays new"
    ]

    services.incident_update(
        incident=incident, actor=responder, source=ChangeSource.API, assignee=responder
    )
    assert client.acknowledge(DEDUP_KEY) == DEDUP_KEY
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED

    assert client.resolve(DEDUP_KEY) == DEDUP_KEY
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolution_code == ResolutionCode.AUTO_RESOLVED
