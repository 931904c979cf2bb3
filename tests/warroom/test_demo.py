"""The demo data `make run` seeds includes war rooms: the seed's P1s with many affected users
are declared major by the rule, and the latest live one is staffed."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import override_settings

from warroom.choices import DeclarationTrigger
from warroom.models import MajorIncident, StatusComponent, StatusIncident
from warroom.status.selectors import component_states


# Committing for real: the rules act after each write commits, as in `make run`.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@override_settings(DEBUG=True)
def test_the_demo_has_a_war_room_at_work():
    call_command("seed_demo", stdout=StringIO())

    rooms = MajorIncident.objects.filter(state="active").order_by("-declared_at")
    assert rooms.exists()
    assert {room.trigger for room in rooms} == {DeclarationTrigger.AFFECTED_USERS}
    room = rooms.first()
    assert {r.role for r in room.role_assignments.filter(ended_at__isnull=True)} == {
        "incident_commander",
        "technical_lead",
        "communications_lead",
        "scribe",
        "sme",
    }
    assert room.tasks.count() == 3
    assert room.tasks.filter(done=True).count() == 1
    assert "Hypothesis" in room.scratchpad and "TODO:" in room.scratchpad
    assert room.manager.username == "manager"
    assert room.bridge_link.startswith("https://")
    assert room.bridge_attendance.filter(left_at__isnull=True).count() == 3
    # The status page says so: the room's incident is public, its services partly out.
    public = StatusIncident.objects.get(incident=room.incident)
    assert public.updates.get().status == "identified"
    affected = StatusComponent.objects.filter(service__in=room.incident.services.all())
    assert affected and set(component_states(affected).values()) == {"partial_outage"}
    assert StatusComponent.objects.filter(public=True).count() == 5
    # Its stakeholder is the IT leadership that published reviews' summaries reach.
    assert Group.objects.get(name="IT leadership").user_set.get().username == "stakeholder"
    # The rules named a manager and a bridge for every room they opened.
    for major in MajorIncident.objects.all():
        assert major.manager is not None
        assert major.bridge_link.startswith("https://meet.example.com/")
