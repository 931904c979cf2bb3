"""The status page's API: components, an incident's public updates and maintenances, with
the role rules (managers write; the communications lead posts their incident's updates;
responders and stakeholders read) and one error shape."""

import pytest

from itsm.roles import Role
from tests.factories import make_incident
from tests.warroom.status_fixtures import CLI, make_component
from warroom import services as warroom
from warroom.choices import WarRoomRole
from warroom.models import Maintenance, StatusComponent, StatusIncident

COMPONENTS = "/api/status/components/"
MAINTENANCES = "/api/maintenances/"


def updates_path(incident) -> str:
    return f"/api/incidents/{incident.number}/status-updates/"


@pytest.fixture
def api_component(manager):
    return make_component(manager, "API", group="Platform")


def test_a_manager_adds_a_component_that_everyone_with_a_role_lists(
    api, manager, responder, stakeholder, service
):
    body = {
        "name": "Checkout",
        "service": service.slug,
        "group": "Shop",
        "status": "degraded_performance",
    }
    response = api.as_user(manager).post(COMPONENTS, body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["slug"] == "checkout"
    assert (created["group"], created["service"], created["status"]) == (
        "Shop",
        "checkout",
        "degraded_performance",
    )
    for reader in (responder, stakeholder):
        listed = api.as_user(reader).get(COMPONENTS)
        assert listed.status_code == 200
        assert [(c["slug"], c["status"]) for c in listed.json()] == [
            ("checkout", "degraded_performance")
        ]


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.STAKEHOLDER])
def test_only_managers_add_components_and_maintenances(api, make_user, role):
    client = api.as_user(make_user("someone", roles=[role]))
    assert client.post(COMPONENTS, {"name": "X"}, format="json").status_code == 403
    maintenance = {
        "name": "M",
        "body": "B",
        "scheduled_for": "2026-03-02T09:00:00Z",
        "scheduled_until": "2026-03-02T10:00:00Z",
    }
    assert client.post(MAINTENANCES, maintenance, format="json").status_code == 403
    assert not StatusComponent.objects.exists() and not Maintenance.objects.exists()


def test_a_manager_posts_an_update_naming_components_by_slug_or_id(
    api, manager, incident, api_component
):
    web = make_component(manager, "Website")
    body = {
        "status": "identified",
        "body": "A bad deploy; rolling back.",
        "components": [
            {"component": "api", "status": "major_outage"},
            {"component": web.pk, "status": "degraded_performance"},
        ],
        "name": "Checkout errors",
    }
    response = api.as_user(manager).post(updates_path(incident), body, format="json")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert (answer["incident"], answer["name"], answer["status"]) == (
        incident.number,
        "Checkout errors",
        "identified",
    )
    assert answer["components"] == [
        {
            "component": "api",
            "name": "API",
            "old_status": "operational",
            "new_status": "major_outage",
        },
        {
            "component": "website",
            "name": "Website",
            "old_status": "operational",
            "new_status": "degraded_performance",
        },
    ]
    assert answer["status_page_url"].endswith(f"/status/#{incident.number}")
    page = api.get("/status/api/v2/incidents/unresolved.json").json()
    assert [i["name"] for i in page["incidents"]] == ["Checkout errors"]


def test_the_communications_lead_posts_but_other_responders_may_not(
    api, manager, responder, make_user, service
):
    p1 = make_incident(actor=responder, services=[service.slug], impact=1, urgency=1)
    major = warroom.major_incident_declare(
        incident=p1, actor=manager, source=CLI, manager=manager, initial_impact_statement="Down"
    )
    lead = make_user("lena", roles=[Role.RESPONDER])
    warroom.role_assign(
        major=major, actor=manager, source=CLI, role=WarRoomRole.COMMUNICATIONS_LEAD, user=lead
    )
    body = {"status": "investigating", "body": "Looking into it."}
    refused = api.as_user(responder).post(updates_path(p1), body, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert api.as_user(lead).post(updates_path(p1), body, format="json").status_code == 201


def test_stakeholders_may_not_post_updates(api, stakeholder, incident):
    response = api.as_user(stakeholder).post(
        updates_path(incident), {"status": "investigating", "body": "x"}, format="json"
    )
    assert response.status_code == 403


def test_bad_updates_name_every_field_and_write_nothing(api, manager, incident, make_user):
    make_component(manager, "Secret", public=False)
    body = {
        "status": "exploded",
        "body": "",
        "components": [{"component": "secret", "status": "broken"}],
        "extra": 1,
    }
    response = api.as_user(manager).post(updates_path(incident), body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"status", "body", "components", "extra"}
    assert not StatusIncident.objects.exists()


def test_an_unknown_incident_is_404(api, manager):
    response = api.as_user(manager).post(
        "/api/incidents/INC9999999/status-updates/",
        {"status": "investigating", "body": "x"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_manager_schedules_a_maintenance_that_stakeholders_read(
    api, manager, stakeholder, api_component
):
    body = {
        "name": "Database upgrade",
        "body": "Short pauses expected.",
        "scheduled_for": "2026-03-02T22:00:00Z",
        "scheduled_until": "2026-03-02T23:00:00Z",
        "components": ["api"],
    }
    response = api.as_user(manager).post(MAINTENANCES, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["components"] == ["api"]
    assert response.json()["status"] == "scheduled"
    listed = api.as_user(stakeholder).get(MAINTENANCES).json()
    assert [(m["name"], [u["body"] for u in m["updates"]]) for m in listed["results"]] == [
        ("Database upgrade", ["Short pauses expected."])
    ]


def test_a_maintenance_window_must_end_after_it_starts(api, manager):
    body = {
        "name": "M",
        "body": "B",
        "scheduled_for": "2026-03-02T10:00:00Z",
        "scheduled_until": "2026-03-02T09:00:00Z",
    }
    response = api.as_user(manager).post(MAINTENANCES, body, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"scheduled_until"}


def test_a_manager_starts_and_completes_a_maintenance_and_its_components_follow(
    api, manager, stakeholder, api_component
):
    body = {
        "name": "Database upgrade",
        "body": "Planned.",
        "scheduled_for": "2026-03-02T22:00:00Z",
        "scheduled_until": "2026-03-02T23:00:00Z",
        "components": ["api"],
    }
    client = api.as_user(manager)
    created = client.post(MAINTENANCES, body, format="json").json()
    updates = f"{MAINTENANCES}{created['id']}/updates/"
    started = client.post(updates, {"status": "in_progress", "body": "Started."}, format="json")
    assert started.status_code == 201, started.content
    assert [u["status"] for u in started.json()["updates"]] == ["in_progress", "scheduled"]
    assert [c["status"] for c in client.get(COMPONENTS).json()] == ["under_maintenance"]
    client = api.as_user(manager)  # the same client, signed in again
    assert (
        client.post(updates, {"status": "completed", "body": "Done."}, format="json").status_code
        == 201
    )
    again = client.post(updates, {"status": "in_progress", "body": "Again."}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    refused = api.as_user(stakeholder).post(
        updates, {"status": "verifying", "body": "x"}, format="json"
    )
    assert refused.status_code == 403
    client = api.as_user(manager)  # the same client, signed in as the manager again
    unknown = client.post(f"{MAINTENANCES}999999/updates/", {"status": "completed", "body": "x"})
    assert unknown.status_code == 404
