"""The status page's services: posting an incident's public updates (who may, what the
components become, what the timeline records), components set by hand, and maintenances."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents.choices import EventType
from itsm.errors import ConflictError, PermissionDeniedError, ValidationFailed
from tests.factories import make_incident
from tests.warroom.status_fixtures import CLI, make_component, post
from warroom import services as warroom
from warroom.choices import WarRoomRole
from warroom.models import StatusIncident
from warroom.status import selectors, services

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def api_component(manager):
    return make_component(manager, "API", group="Platform")


@pytest.fixture
def web_component(manager):
    return make_component(manager, "Website", group="Platform", position=1)


def states(*components) -> dict[str, str]:
    fresh = selectors.public_components()
    return {c.slug: c.state for c in fresh if c in components}


@time_machine.travel(T0, tick=False)
def test_the_first_update_puts_the_incident_on_the_page_under_its_title(
    incident, manager, api_component
):
    update = post(
        incident,
        manager,
        "investigating",
        "Checkout is slow.",
        [(api_component, "degraded_performance")],
    )
    public = StatusIncident.objects.get(incident=incident)
    assert public.name == incident.title
    assert public.status == "investigating"
    assert public.impact == "minor"
    assert public.created_at == T0
    assert [
        (a.component.slug, a.old_status, a.new_status) for a in update.affected_components.all()
    ] == [("api", "operational", "degraded_performance")]
    assert states(api_component) == {"api": "degraded_performance"}


def test_later_updates_carry_components_and_resolving_makes_them_operational(
    incident, manager, api_component, web_component
):
    post(
        incident,
        manager,
        "investigating",
        "Down.",
        [(api_component, "major_outage")],
        name="API errors",
    )
    second = post(incident, manager, "identified", "Found it.", [(web_component, "partial_outage")])
    assert {
        a.component.slug: (a.old_status, a.new_status) for a in second.affected_components.all()
    } == {
        "api": ("major_outage", "major_outage"),
        "website": ("operational", "partial_outage"),
    }
    assert states(api_component, web_component) == {
        "api": "major_outage",
        "website": "partial_outage",
    }
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        post(incident, manager, "monitoring", "Fixed, watching.", [(api_component, "operational")])
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        resolved = post(incident, manager, "resolved", "All good.")
    public = StatusIncident.objects.get(incident=incident)
    assert public.name == "API errors"
    assert public.impact == "critical"  # the worst it reached
    assert public.monitoring_at == T0 + timedelta(hours=1)
    assert public.resolved_at == T0 + timedelta(hours=2)
    assert {a.component.slug: a.new_status for a in resolved.affected_components.all()} == {
        "api": "operational",
        "website": "operational",
    }
    assert states(api_component, web_component) == {"api": "operational", "website": "operational"}


def test_the_worst_open_incident_wins_and_an_override_beats_it(
    incident, responder, manager, api_component, service
):
    other = make_incident(actor=responder, services=[service.slug])
    post(incident, manager, "investigating", "Slow.", [(api_component, "degraded_performance")])
    post(other, manager, "investigating", "Down.", [(api_component, "partial_outage")])
    assert states(api_component) == {"api": "partial_outage"}
    services.component_set_status(
        component=api_component, actor=manager, source=CLI, status="operational"
    )
    assert states(api_component) == {"api": "operational"}
    services.component_set_status(component=api_component, actor=manager, source=CLI, status="")
    assert states(api_component) == {"api": "partial_outage"}


def test_an_in_progress_maintenance_puts_its_components_under_maintenance(manager, api_component):
    maintenance = services.maintenance_create(
        actor=manager,
        source=CLI,
        name="Database upgrade",
        body="We upgrade the database.",
        scheduled_for=T0,
        scheduled_until=T0 + timedelta(hours=2),
        components=[api_component],
    )
    assert states(api_component) == {"api": "operational"}
    services.maintenance_post_update(
        maintenance=maintenance, actor=manager, source=CLI, status="in_progress", body="Started."
    )
    assert states(api_component) == {"api": "under_maintenance"}
    services.maintenance_post_update(
        maintenance=maintenance, actor=manager, source=CLI, status="completed", body="Done."
    )
    assert states(api_component) == {"api": "operational"}
    with pytest.raises(ConflictError):
        services.maintenance_post_update(
            maintenance=maintenance, actor=manager, source=CLI, status="in_progress", body="Again."
        )
    assert [u.status for u in maintenance.updates.all()] == [
        "completed",
        "in_progress",
        "scheduled",
    ]


def test_an_update_is_a_public_event_on_the_incidents_timeline(incident, manager, api_component):
    update = post(
        incident, manager, "identified", "A bad deploy.", [(api_component, "partial_outage")]
    )
    event = incident.events.get(type=EventType.COMMUNICATION)
    assert event.public is True
    assert event.actor == manager
    assert event.summary == "Status page update (identified): A bad deploy."
    assert event.data == {
        "status_update": update.pk,
        "status": "identified",
        "components": {"api": "partial_outage"},
    }


def test_responders_and_stakeholders_may_not_post_but_the_communications_lead_may(
    manager, responder, stakeholder, service
):
    p1 = make_incident(actor=responder, services=[service.slug], impact=1, urgency=1)
    for who in (responder, stakeholder):
        with pytest.raises(PermissionDeniedError):
            post(p1, who, "investigating", "Looking.")
    major = warroom.major_incident_declare(
        incident=p1, actor=manager, source=CLI, manager=manager, initial_impact_statement="Down"
    )
    warroom.role_assign(
        major=major, actor=manager, source=CLI, role=WarRoomRole.COMMUNICATIONS_LEAD, user=responder
    )
    post(p1, responder, "investigating", "Looking.")
    assert StatusIncident.objects.get(incident=p1).updates.count() == 1


def test_bad_input_names_each_field_and_writes_nothing(incident, manager):
    private = make_component(manager, "Internal DB", public=False)
    with pytest.raises(ValidationFailed) as caught:
        post(incident, manager, "exploded", " ", [(private, "major_outage")], name="x" * 201)
    assert set(caught.value.fields) == {"status", "body", "components", "name"}
    assert not StatusIncident.objects.exists()
    assert not incident.events.filter(type=EventType.COMMUNICATION).exists()


def test_a_component_needs_a_name_and_a_slug_of_its_own(manager, api_component):
    with pytest.raises(ValidationFailed) as caught:
        services.component_create(actor=manager, source=CLI, name="API")
    assert set(caught.value.fields) == {"name", "slug"}
    with pytest.raises(ValidationFailed) as caught:
        services.component_create(actor=manager, source=CLI, name="日本")
    assert caught.value.fields == {"slug": ["Use letters, digits, hyphens and underscores only."]}
