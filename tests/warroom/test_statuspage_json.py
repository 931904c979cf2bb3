"""The status page as Atlassian Statuspage's public API (v2): every path, every field name and
every enum value, as widgets and tools that read Statuspage expect them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_incident
from tests.warroom.status_fixtures import CLI, make_component, post
from warroom.status import services

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
API = "/status/api/v2/"
PAGE_FIELDS = {"id", "name", "url", "time_zone", "updated_at"}
STATUS_FIELDS = {"indicator", "description"}
COMPONENT_FIELDS = {
    "id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
    "start_date", "group_id", "page_id", "group", "only_show_if_degraded",
}  # fmt: skip
GROUP_FIELDS = COMPONENT_FIELDS | {"components"}
INCIDENT_FIELDS = {
    "id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at",
    "impact", "shortlink", "started_at", "page_id", "incident_updates", "components",
}  # fmt: skip
MAINTENANCE_FIELDS = INCIDENT_FIELDS | {"scheduled_for", "scheduled_until"}
UPDATE_FIELDS = {
    "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
    "affected_components", "deliver_notifications", "custom_tweet", "tweet_id",
}  # fmt: skip
AFFECTED_FIELDS = {"code", "name", "old_status", "new_status"}
INDICATORS = {"none", "minor", "major", "critical"}
COMPONENT_STATUSES = {
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance",
}  # fmt: skip
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
TOP_LEVEL = {
    "summary.json": {"page", "components", "incidents", "scheduled_maintenances", "status"},
    "status.json": {"page", "status"},
    "components.json": {"page", "components"},
    "incidents.json": {"page", "incidents"},
    "incidents/unresolved.json": {"page", "incidents"},
    "scheduled-maintenances.json": {"page", "scheduled_maintenances"},
    "scheduled-maintenances/upcoming.json": {"page", "scheduled_maintenances"},
    "scheduled-maintenances/active.json": {"page", "scheduled_maintenances"},
}


@pytest.fixture
def published(manager, responder):
    """Components (two grouped, one not, one private), an open and a resolved incident, a
    scheduled and an in-progress maintenance."""
    api = make_component(manager, "API", group="Platform")
    web = make_component(manager, "Website", group="Platform", position=1)
    mail = make_component(manager, "Email")
    make_component(manager, "Private thing", public=False)
    with time_machine.travel(T0, tick=False):
        open_incident = make_incident(actor=responder, started_at=T0 - timedelta(minutes=5))
        post(
            open_incident,
            manager,
            "investigating",
            "Errors.",
            [(api, "major_outage")],
            name="API down",
        )
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        post(open_incident, manager, "identified", "Rolling back.", [(web, "degraded_performance")])
    old = make_incident(actor=responder)
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        post(
            old,
            manager,
            "investigating",
            "Mail slow.",
            [(mail, "partial_outage")],
            name="Slow mail",
        )
        post(old, manager, "monitoring", "Watching.", [(mail, "operational")])
        post(old, manager, "resolved", "Done.")
    services.maintenance_create(
        actor=manager,
        source=CLI,
        name="Upgrade",
        body="Soon.",
        scheduled_for=T0 + timedelta(days=1),
        scheduled_until=T0 + timedelta(days=1, hours=1),
        components=[mail],
    )
    running = services.maintenance_create(
        actor=manager,
        source=CLI,
        name="Network work",
        body="Planned.",
        scheduled_for=T0,
        scheduled_until=T0 + timedelta(hours=4),
        components=[web],
    )
    services.maintenance_post_update(
        maintenance=running, actor=manager, source=CLI, status="in_progress", body="Started."
    )
    return {"open": open_incident, "old": old}


def get(client, path):
    response = client.get(API + path)
    assert response.status_code == 200, path
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    return response.json()


def assert_time(value, *, nullable=False):
    if value is None and nullable:
        return
    assert datetime.fromisoformat(value).tzinfo is not None, value


def check_component(row):
    assert set(row) == (GROUP_FIELDS if row["group"] else COMPONENT_FIELDS)
    assert row["status"] in COMPONENT_STATUSES
    assert row["page_id"] == "itsm"
    assert isinstance(row["position"], int)
    assert_time(row["created_at"])
    assert_time(row["updated_at"])


def check_update(update, parent_id, statuses):
    assert set(update) == UPDATE_FIELDS
    assert update["status"] in statuses
    assert update["incident_id"] == parent_id
    for affected in update["affected_components"] or []:
        assert set(affected) == AFFECTED_FIELDS
        assert {affected["old_status"], affected["new_status"]} <= COMPONENT_STATUSES
    for name in ("created_at", "updated_at", "display_at"):
        assert_time(update[name])


def check_incident(row, *, fields=INCIDENT_FIELDS, statuses=INCIDENT_STATUSES):
    assert set(row) == fields
    assert row["status"] in statuses
    assert row["impact"] in INDICATORS | {"maintenance"}
    assert row["shortlink"].endswith(f"/status/#{row['id']}")
    for name in ("monitoring_at", "resolved_at"):
        assert_time(row[name], nullable=True)
    times = [u["created_at"] for u in row["incident_updates"]]
    assert times == sorted(times, reverse=True)  # newest first
    for update in row["incident_updates"]:
        check_update(update, row["id"], statuses)
    for component in row["components"]:
        check_component(component)


@pytest.mark.parametrize("path", sorted(TOP_LEVEL))
def test_every_endpoint_has_statuspages_fields_and_values(client, published, path):
    body = get(client, path)
    assert set(body) == TOP_LEVEL[path]
    assert set(body["page"]) == PAGE_FIELDS
    assert body["page"]["url"].endswith("/status/")
    assert body["page"]["time_zone"] == "UTC"
    assert_time(body["page"]["updated_at"])
    if "status" in body:
        assert set(body["status"]) == STATUS_FIELDS
        assert body["status"]["indicator"] in INDICATORS
    for row in body.get("components", []):
        check_component(row)
    for row in body.get("incidents", []):
        check_incident(row)
    for row in body.get("scheduled_maintenances", []):
        check_incident(row, fields=MAINTENANCE_FIELDS, statuses=MAINTENANCE_STATUSES)


def test_the_summary(client, published):
    body = get(client, "summary.json")
    assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}
    rows = {row["id"]: row for row in body["components"]}
    group_id = next(row["id"] for row in body["components"] if row["group"])
    assert [(row["id"], row["status"], row["group_id"]) for row in body["components"]] == [
        (group_id, "major_outage", None),
        ("api", "major_outage", group_id),
        ("website", "degraded_performance", group_id),
        ("email", "operational", None),
    ]
    assert rows[group_id]["components"] == ["api", "website"]
    assert [row["position"] for row in body["components"]] == [1, 2, 3, 4]
    assert [i["id"] for i in body["incidents"]] == [published["open"].number]
    incident = body["incidents"][0]
    assert (incident["name"], incident["status"], incident["impact"]) == (
        "API down",
        "identified",
        "critical",
    )
    assert [u["body"] for u in incident["incident_updates"]] == ["Rolling back.", "Errors."]
    assert incident["incident_updates"][0]["affected_components"] == [
        {"code": "api", "name": "API", "old_status": "major_outage", "new_status": "major_outage"},
        {
            "code": "website",
            "name": "Website",
            "old_status": "operational",
            "new_status": "degraded_performance",
        },
    ]
    assert [c["id"] for c in incident["components"]] == ["api", "website"]
    assert [m["name"] for m in body["scheduled_maintenances"]] == ["Network work", "Upgrade"]


def test_incidents_and_maintenances_by_state(client, published):
    assert [i["name"] for i in get(client, "incidents.json")["incidents"]] == [
        "API down",
        "Slow mail",
    ]
    resolved = get(client, "incidents.json")["incidents"][1]
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None and resolved["monitoring_at"] is not None
    assert resolved["impact"] == "major"
    assert [i["name"] for i in get(client, "incidents/unresolved.json")["incidents"]] == [
        "API down"
    ]
    upcoming = get(client, "scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
    active = get(client, "scheduled-maintenances/active.json")["scheduled_maintenances"]
    assert [m["name"] for m in upcoming] == ["Upgrade"]
    assert [(m["name"], m["status"]) for m in active] == [("Network work", "in_progress")]
    assert active[0]["scheduled_for"] == "2026-03-02T09:00:00.000+00:00"
    assert active[0]["scheduled_until"] == "2026-03-02T13:00:00.000+00:00"
    assert [u["status"] for u in active[0]["incident_updates"]] == ["in_progress", "scheduled"]


def test_the_paths_are_statuspages_exactly(client, published):
    assert client.get(API + "summary.json/").status_code == 404
    assert client.post(API + "summary.json").status_code == 405


def test_summary_json_answers_in_a_fixed_number_of_queries(client, manager, responder, published):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            get(client, "summary.json")
        return len(captured)

    before = queries()
    api = make_component(manager, "Search")
    for n in range(10):
        post(
            make_incident(actor=responder),
            manager,
            "investigating",
            f"Problem {n}.",
            [(api, "partial_outage")],
        )
    assert queries() == before
