"""The three SLA presets of SPEC §2: what a fresh install has, what each preset loads, and that
loading again (command or admin) changes nothing but what the preset defines."""

from datetime import time, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from incidents.models import BusinessCalendar, Holiday, SlaPolicy, SlaTarget
from incidents.sla.presets import load_preset

M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
WALL, BUSINESS = False, True

# SPEC §2, row by row: (priority, kind) -> (duration, in business time).
SPEC = {
    "response-workflow": {
        ("P1", "acknowledge"): (15 * M, WALL),
        ("P1", "mitigate"): (1 * H, WALL),
        ("P1", "resolve"): (4 * H, WALL),
        ("P2", "acknowledge"): (1 * H, WALL),
        ("P2", "mitigate"): (4 * H, WALL),
        ("P2", "resolve"): (24 * H, WALL),
        ("P3", "acknowledge"): (4 * H, WALL),
        ("P3", "mitigate"): (24 * H, WALL),
        ("P3", "resolve"): (7 * D, WALL),
        ("P4", "acknowledge"): (24 * H, WALL),
        ("P4", "mitigate"): (7 * D, WALL),
        ("P4", "resolve"): (30 * D, WALL),
    },
    "techflow": {
        ("P1", "acknowledge"): (5 * M, WALL),
        ("P1", "respond"): (10 * M, WALL),
        ("P1", "resolve"): (45 * M, WALL),
        ("P1", "update"): (30 * M, WALL),
        ("P2", "acknowledge"): (15 * M, WALL),
        ("P2", "respond"): (20 * M, WALL),
        ("P2", "resolve"): (2 * H, WALL),
        ("P2", "update"): (60 * M, WALL),
        ("P3", "acknowledge"): (1 * H, WALL),
        ("P3", "respond"): (2 * H, WALL),
        ("P3", "resolve"): (8 * H, BUSINESS),
        ("P3", "update"): (24 * H, WALL),
        ("P4", "acknowledge"): (24 * H, WALL),
        ("P4", "respond"): (48 * H, WALL),
        ("P4", "resolve"): (40 * H, BUSINESS),  # 5 business days of 8 hours
    },
    "workflow-guide": {
        ("P1", "respond"): (15 * M, WALL),
        ("P1", "resolve"): (4 * H, WALL),
        ("P2", "respond"): (1 * H, WALL),
        ("P2", "resolve"): (8 * H, WALL),
        ("P3", "respond"): (4 * H, WALL),
        ("P3", "resolve"): (3 * D, WALL),
        ("P4", "respond"): (8 * H, BUSINESS),  # 1 business day
        ("P4", "resolve"): (5 * D, WALL),
    },
}


def targets_of(policy) -> dict:
    return {
        (t.priority, t.kind): (t.duration, t.business_time)
        for t in SlaTarget.objects.filter(policy=policy)
    }


def snapshot() -> tuple:
    return (
        sorted(SlaPolicy.objects.values_list("pk", "slug", "is_default", "calendar_id")),
        sorted(SlaTarget.objects.values_list("pk", "policy_id", "priority", "kind", "duration")),
        sorted(BusinessCalendar.objects.values_list("pk", "slug", "time_zone")),
        sorted(BusinessCalendar.objects.values_list("hours__weekday", "hours__start")),
    )


def test_a_fresh_install_measures_against_response_workflow(db):
    default = SlaPolicy.objects.get(is_default=True)

    assert default.slug == "response-workflow"
    assert targets_of(default) == SPEC["response-workflow"]
    assert (default.warning_percent, default.pause_on_hold) == (75, True)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_each_preset_loads_the_targets_of_the_spec(db, name):
    policy = load_preset(name)

    assert policy.slug == name
    assert targets_of(policy) == SPEC[name]
    assert (policy.calendar is not None) == any(business for _, business in SPEC[name].values())


@pytest.mark.parametrize("name", sorted(SPEC))
def test_loading_a_preset_again_changes_nothing(db, name):
    load_preset(name, make_default=True)
    before = snapshot()

    load_preset(name, make_default=True)

    assert snapshot() == before


def test_business_time_uses_a_weekday_nine_to_five_calendar_in_the_portals_zone(db, settings):
    settings.TIME_ZONE = "Europe/Berlin"

    calendar = load_preset("techflow").calendar

    assert (calendar.name, calendar.time_zone) == ("Business hours", "Europe/Berlin")
    hours = sorted(calendar.hours.values_list("weekday", "start", "end"))
    assert hours == [(day, time(9), time(17)) for day in range(5)]


def test_reloading_restores_the_targets_and_keeps_the_calendars_holidays(db):
    policy = load_preset("techflow")
    SlaTarget.objects.filter(policy=policy, priority="P1", kind="acknowledge").update(
        duration=timedelta(hours=3)
    )
    SlaTarget.objects.create(policy=policy, priority="P4", kind="update", duration=timedelta(1))
    Holiday.objects.create(calendar=policy.calendar, date="2026-12-25", name="Christmas")

    load_preset("techflow")

    assert targets_of(policy) == SPEC["techflow"]
    assert list(policy.calendar.holidays.values_list("name", flat=True)) == ["Christmas"]


def test_make_default_moves_the_default(db):
    load_preset("techflow", make_default=True)

    assert list(SlaPolicy.objects.filter(is_default=True).values_list("slug", flat=True)) == [
        "techflow"
    ]


def test_loading_without_default_leaves_the_default_alone(db):
    load_preset("workflow-guide")

    assert SlaPolicy.objects.get(is_default=True).slug == "response-workflow"


# --- the command and the admin ------------------------------------------------------------------


def test_the_command_loads_a_preset_and_can_make_it_the_default(db):
    out = StringIO()

    call_command("load_sla_preset", "workflow-guide", "--default", stdout=out)

    assert out.getvalue().strip() == (
        "Loaded Incident workflow guide (workflow-guide): 8 targets, the default policy."
    )
    assert SlaPolicy.objects.get(is_default=True).slug == "workflow-guide"


def test_the_command_refuses_an_unknown_preset(db):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("load_sla_preset", "itil-gold")


LOAD_PRESET = reverse("admin:incidents_slapolicy_load_preset")


def test_a_manager_loads_a_preset_from_the_admin(client, manager):
    client.force_login(manager)
    changelist = client.get(reverse("admin:incidents_slapolicy_changelist")).content.decode()
    assert f'href="{LOAD_PRESET}"' in changelist

    response = client.post(LOAD_PRESET, {"preset": "techflow", "make_default": "on"})

    assert response.status_code == 302
    assert SlaPolicy.objects.get(is_default=True).slug == "techflow"
    assert targets_of(SlaPolicy.objects.get(slug="techflow")) == SPEC["techflow"]


def test_staff_without_write_permission_cannot_load_a_preset(client, make_user):
    viewer = make_user("vera", roles=["stakeholder"], is_staff=True)
    client.force_login(viewer)

    response = client.post(LOAD_PRESET, {"preset": "techflow", "make_default": "on"})

    assert response.status_code == 403
    assert not SlaPolicy.objects.filter(slug="techflow").exists()
