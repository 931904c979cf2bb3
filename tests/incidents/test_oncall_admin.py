"""The admin's on-call and escalation pages, as an ITSM manager uses them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from incidents.models import EscalationPolicy, EscalationStep, Rotation, Schedule
from itsm.roles import Role
from tests.factories import make_incident
from tests.incidents.test_admin import form_data

MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def alice(make_user):
    return make_user("alice", roles=[Role.RESPONDER])


def schedule_form(**rotation) -> dict:
    return {
        "name": "Primary on-call",
        "slug": "primary",
        "description": "",
        "time_zone": "UTC",
        "team": "",
        "rotations-TOTAL_FORMS": "1",
        "rotations-INITIAL_FORMS": "0",
        "rotations-MIN_NUM_FORMS": "0",
        "rotations-MAX_NUM_FORMS": "1000",
        "rotations-0-name": "Weekly",
        "rotations-0-layer": "1",
        "rotations-0-handoff_at_0": "2026-01-05",
        "rotations-0-handoff_at_1": "09:00:00",
        "rotations-0-shift_length": "7 00:00:00",
        "rotations-0-ends_at_0": "",
        "rotations-0-ends_at_1": "",
        **{f"rotations-0-{key}": value for key, value in rotation.items()},
    }


def test_a_manager_adds_a_schedule_with_its_rotation(as_manager):
    response = as_manager.post(reverse("admin:incidents_schedule_add"), schedule_form())

    assert response.status_code == 302
    rotation = Rotation.objects.get(schedule__slug="primary")
    assert (rotation.handoff_at, rotation.shift_length) == (MONDAY, timedelta(days=7))


def test_a_shift_shorter_than_an_hour_is_refused(as_manager):
    response = as_manager.post(
        reverse("admin:incidents_schedule_add"), schedule_form(shift_length="00:05:00")
    )

    assert response.status_code == 200
    assert "A shift lasts at least 1:00:00." in response.content.decode()
    assert not Schedule.objects.exists()


def test_the_schedule_list_shows_who_is_on_call_now(as_manager, alice):
    as_manager.post(reverse("admin:incidents_schedule_add"), schedule_form())
    rotation = Rotation.objects.get()
    rotation.memberships.create(user=alice, position=1)

    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        page = as_manager.get(reverse("admin:incidents_schedule_changelist")).content.decode()

    assert "alice (Weekly)" in page


def test_a_rotations_members_are_set_in_turn_order_on_its_page(as_manager, alice, responder):
    as_manager.post(reverse("admin:incidents_schedule_add"), schedule_form())
    rotation = Rotation.objects.get()
    url = reverse("admin:incidents_rotation_change", args=[rotation.pk])
    data = form_data(as_manager.get(url))
    data.update(
        {
            "memberships-TOTAL_FORMS": "2",
            "memberships-0-position": "1",
            "memberships-0-user": str(responder.pk),
            "memberships-1-position": "2",
            "memberships-1-user": str(alice.pk),
        }
    )

    response = as_manager.post(url, data)

    assert response.status_code == 302
    assert [m.user.username for m in rotation.memberships.all()] == ["rita", "alice"]


def with_inline_forms(response) -> dict:
    """form_data, plus the current values of every inline form's fields."""
    data = form_data(response)
    for inline in response.context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            data.update({field.html_name: field.value() for field in form if field.value()})
    return data


def test_a_manager_limits_a_level_to_priorities_with_checkboxes(as_manager):
    policy = EscalationPolicy.objects.get(is_default=True)
    url = reverse("admin:incidents_escalationpolicy_change", args=[policy.pk])
    page = as_manager.get(url)
    assert 'type="checkbox" name="levels-0-priorities" value="P1"' in page.content.decode()
    data = with_inline_forms(page)
    assert data["levels-4-priorities"] == ["P1"]  # the VP, as migration 0004 set it
    data["levels-3-priorities"] = ["P1", "P2"]  # the director: P1 and P2 only

    response = as_manager.post(url, data)

    assert response.status_code == 302
    priorities = dict(policy.levels.values_list("position", "priorities"))
    assert priorities == {1: [], 2: [], 3: [], 4: ["P1", "P2"], 5: ["P1"]}


def test_escalation_steps_are_read_only(as_manager, responder):
    incident = make_incident(actor=responder, priority="P1")

    listed = as_manager.get(reverse("admin:incidents_escalationstep_changelist"))
    added = as_manager.get(reverse("admin:incidents_escalationstep_add"))

    assert listed.status_code == 200
    assert incident.number in listed.content.decode()
    assert added.status_code == 403
    assert EscalationStep.objects.filter(incident=incident).count() == 5


def test_stakeholders_do_not_reach_the_admin(client, stakeholder):
    client.force_login(stakeholder)

    response = client.get(reverse("admin:incidents_schedule_changelist"))

    assert response.status_code == 302
