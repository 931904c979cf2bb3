"""The status page in the Django admin: components edited with their history, a maintenance
scheduled and moved on through the services, public incidents read-only."""

from django.urls import reverse

from tests.incidents.test_admin import form_data
from tests.warroom.status_fixtures import make_component, post
from warroom.models import Maintenance, StatusComponent, StatusIncident


def test_a_manager_adds_a_component_and_its_history_names_them(signed_in, manager, service):
    client = signed_in(manager)
    response = client.post(
        reverse("admin:warroom_statuscomponent_add"),
        {
            "name": "Checkout",
            "slug": "checkout",
            "service": service.pk,
            "position": 0,
            "public": "on",
        },
    )
    assert response.status_code == 302, response.content
    component = StatusComponent.objects.get(slug="checkout")
    assert component.service == service
    assert component.history.get().history_change_reason == "create by mona (admin)"


def test_a_maintenance_is_scheduled_then_started_with_public_notes(signed_in, manager):
    component = make_component(manager, "API")
    client = signed_in(manager)
    add = reverse("admin:warroom_maintenance_add")
    response = client.post(
        add,
        form_data(client.get(add))
        | {
            "name": "Database upgrade",
            "status": "scheduled",
            "scheduled_for_0": "2026-03-02",
            "scheduled_for_1": "22:00",
            "scheduled_until_0": "2026-03-02",
            "scheduled_until_1": "23:00",
            "components": [component.pk],
            "body": "We upgrade the database.",
        },
    )
    assert response.status_code == 302, response.content
    maintenance = Maintenance.objects.get()
    change = reverse("admin:warroom_maintenance_change", args=[maintenance.pk])
    response = client.post(
        change, form_data(client.get(change)) | {"status": "in_progress", "body": "Started."}
    )
    assert response.status_code == 302, response.content
    assert [(u.status, u.body) for u in maintenance.updates.all()] == [
        ("in_progress", "Started."),
        ("scheduled", "We upgrade the database."),
    ]
    assert list(maintenance.components.all()) == [component]


def test_public_incidents_are_read_only_in_the_admin(signed_in, manager, incident):
    post(incident, manager, "investigating", "Looking into it.")
    public = StatusIncident.objects.get()
    client = signed_in(manager)
    page = client.get(reverse("admin:warroom_statusincident_change", args=[public.pk]))
    assert page.status_code == 200
    assert "Looking into it." in page.content.decode()
    assert client.get(reverse("admin:warroom_statusincident_add")).status_code == 403
