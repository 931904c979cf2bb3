"""GET /api/alerts/ (alert groups, filtered), /api/alerts/{id}/ (with its alerts) and
/api/incidents/{number}/alerts/, as whoever reads incidents sees them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents.alerts import ingest
from incidents.alerts.parsing import AlertIn, Notification
from incidents.models import AlertGroup, Incident
from itsm.roles import Role
from tests.conftest import api_error
from tests.factories import ServiceFactory
from tests.incidents.alert_payloads import payload, post

AUTH = 1  # the token with its user; the permissions are cached (itsm/permission_cache.py)
START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _fire(integration, key: str, *, alerts: int = 1, status: str = "firing") -> AlertGroup | None:
    """A payload of `alerts` alerts about group `key`, through the ingestion senders use."""
    notification = Notification(
        group_key=key,
        alerts=[
            AlertIn(
                fingerprint=f"{key}-{n}",
                status=status,
                labels={"alertname": key, "instance": f"host-{n}"},
                annotations={"summary": f"{key} is down"},
                generator_url="https://prometheus.example.com/graph",
            )
            for n in range(alerts)
        ],
        title=f"{key} is down",
    )
    return ingest.alerts_ingest(
        integration=integration,
        notification=notification,
        seen=ingest.Seen.once(timezone.now()),
    )


@pytest.fixture
def reader(api, stakeholder):
    client = api.as_user(stakeholder)
    client.get("/api/incidents/")  # the token's first use is recorded once; later uses are free
    return client


@pytest.fixture
def prometheus(make_integration):
    return make_integration(name="Prometheus")


def test_a_stakeholder_lists_alert_groups_with_their_incident(client, reader, prometheus):
    post(client, f"/api/alerts/alertmanager/{prometheus.key}/", payload("alertmanager_firing"))
    group = AlertGroup.objects.get()

    response = reader.get("/api/alerts/")

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row == {
        "id": group.pk,
        "integration": {"id": prometheus.pk, "name": "Prometheus", "kind": "alertmanager"},
        "key": group.key,
        "title": "Checkout error rate above 10%",
        "status": "firing",
        "alert_count": 2,
        "firing_count": 2,
        "received_count": 1,
        "first_seen_at": row["first_seen_at"],
        "last_seen_at": row["last_seen_at"],
        "resolved_at": None,
        "incident": group.incident.number,
        "incident_url": f"/incidents/{group.incident.number}/",
    }
    assert "alerts" not in row


def test_the_detail_has_the_alerts(client, reader, prometheus):
    post(client, f"/api/alerts/alertmanager/{prometheus.key}/", payload("alertmanager_firing"))
    group = AlertGroup.objects.get()

    alerts = reader.get(f"/api/alerts/{group.pk}/").json()["alerts"]

    assert [alert["fingerprint"] for alert in alerts] == ["5f0c3a1e8b2d4c7a", "9d41b7e02c6f3a85"]
    first = alerts[0]
    assert first["status"] == "firing"
    assert first["labels"]["instance"] == "checkout-1:8080"
    assert first["annotations"]["summary"] == "Checkout error rate above 10%"
    assert first["starts_at"].startswith("2026-12-03T09:55:00.123456")
    assert first["ends_at"] is None
    assert first["generator_url"].startswith("http://prometheus.example.com:9090/graph")
    assert first["repeat_count"] == 0
    assert {"first_seen_at", "last_seen_at"} <= set(first)


def test_groups_come_newest_last_seen_first_and_filter(reader, prometheus, make_integration):
    other_service = ServiceFactory(slug="payments")
    grafana = make_integration("grafana", name="Grafana")
    with time_machine.travel(START, tick=False) as clock:
        disk = _fire(prometheus, "disk")
        clock.shift(timedelta(minutes=10))
        cpu = _fire(grafana, "cpu")
        clock.shift(timedelta(minutes=10))
        _fire(prometheus, "disk", status="resolved")  # disk: resolved, last seen at 09:20
    cpu.incident.services.add(other_service)

    def ids(query=""):
        response = reader.get(f"/api/alerts/{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [disk.pk, cpu.pk]
    assert ids("?status=firing") == [cpu.pk]
    assert ids("?status=resolved") == [disk.pk]
    assert ids(f"?integration={grafana.pk}") == [cpu.pk]
    assert ids("?integration=Prometheus") == [disk.pk]
    assert ids("?integration=99999999999999999999999") == []
    assert ids("?service=payments") == [cpu.pk]
    assert ids(f"?incident={disk.incident.number.lower()}") == [disk.pk]
    assert ids("?since=2026-12-03T09:15:00Z") == [disk.pk]
    assert ids("?until=2026-12-03T09:15:00Z") == [cpu.pk]
    assert ids("?since=2026-12-03T09:05:00Z&until=2026-12-03T09:15:00Z") == [cpu.pk]


@pytest.mark.parametrize("query", ["?status=pending", "?since=yesterday"])
def test_a_bad_filter_is_a_400_naming_it(reader, query):
    fields = api_error(reader.get(f"/api/alerts/{query}"), 400, "invalid")

    assert set(fields) == {query[1:].partition("=")[0]}


def test_the_incidents_alerts(client, reader, prometheus, incident):
    with time_machine.travel(START, tick=False) as clock:
        first = _fire(prometheus, "disk", alerts=2)
        clock.shift(timedelta(minutes=5))
        _fire(prometheus, "disk", status="resolved", alerts=2)
        clock.shift(timedelta(minutes=5))
        again = _fire(prometheus, "disk")  # fires again: a new group, a new incident
        _fire(prometheus, "other")
    number = first.incident.number
    assert again.incident.number != number

    response = reader.get(f"/api/incidents/{number}/alerts/")

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert (row["id"], row["status"], row["incident"]) == (first.pk, "resolved", number)
    assert [alert["status"] for alert in row["alerts"]] == ["resolved", "resolved"]
    assert reader.get(f"/api/incidents/{incident.number}/alerts/").json()["results"] == []
    api_error(reader.get("/api/incidents/INC9999999/alerts/"), 404, "not_found")
    api_error(reader.get("/api/alerts/999999/"), 404, "not_found")


@pytest.mark.parametrize(
    "url", ["/api/alerts/", "/api/alerts/{group}/", "/api/incidents/{number}/alerts/"]
)
def test_who_reads_incidents_reads_alerts(api, make_user, prometheus, url):
    group = _fire(prometheus, "disk")
    url = url.format(group=group.pk, number=group.incident.number)

    for role in Role:
        client = api.as_user(make_user(f"user-{role}", roles=[role]))
        assert client.get(url).status_code == 200, role
    assert api.as_user(make_user("nobody", roles=[])).get(url).status_code == 403
    api.credentials()
    assert api.get(url).status_code in (401, 403)


@pytest.mark.parametrize("groups", [1, 30])
def test_the_list_costs_the_same_however_many_groups(
    reader, prometheus, django_assert_num_queries, groups
):
    for n in range(groups):
        _fire(prometheus, f"group-{n}", alerts=2)

    with django_assert_num_queries(AUTH + 2):  # count, the page with integrations, incidents
        response = reader.get("/api/alerts/?page_size=50&status=firing")

    assert len(response.json()["results"]) == groups


@pytest.mark.parametrize("alerts", [1, 40])
def test_the_detail_costs_the_same_however_many_alerts(
    reader, prometheus, django_assert_num_queries, alerts
):
    group = _fire(prometheus, "disk", alerts=alerts)

    with django_assert_num_queries(AUTH + 2):  # the group, its alerts
        response = reader.get(f"/api/alerts/{group.pk}/")

    assert len(response.json()["alerts"]) == alerts


@pytest.mark.parametrize("refires", [1, 8])
def test_the_incidents_alerts_cost_the_same_however_many_groups(
    reader, make_integration, prometheus, django_assert_num_queries, refires
):
    mitigating = make_integration(name="Mitigating", on_clear="mitigate")
    group = _fire(mitigating, "disk", alerts=3)
    for _ in range(refires):  # each firing after a clear is a new group of the open incident
        _fire(mitigating, "disk", alerts=3, status="resolved")
        _fire(mitigating, "disk", alerts=3)
    number = group.incident.number

    # the incident; count and page of groups (integration, incident); their alerts
    with django_assert_num_queries(AUTH + 4):
        response = reader.get(f"/api/incidents/{number}/alerts/")

    assert len(response.json()["results"]) == refires + 1
    assert Incident.objects.count() == 1
