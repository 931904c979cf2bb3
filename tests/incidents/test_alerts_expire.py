"""An integration's `resolve_after_minutes`: a firing group no payload named for that long is
resolved as if its alerts had, by the every-minute job, once however many run at once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_q.models import Schedule

from incidents.alerts import tasks
from incidents.choices import AlertStatus, EventType, IncidentStatus, ResolutionCode
from incidents.models import AlertGroup
from tests.concurrency import all_succeed
from tests.incidents.test_alerts_api import _fire

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_a_silent_group_is_resolved_after_its_minutes_and_only_then(clock, make_integration):
    quiet = make_integration(name="Quiet", resolve_after_minutes=30)
    group = _fire(quiet, "disk", alerts=2)
    clock.shift(timedelta(minutes=20))
    _fire(quiet, "disk", alerts=2)  # a repeat: the 30 minutes start again

    clock.shift(timedelta(minutes=29))
    assert tasks.alert_groups_expire() == 0
    clock.shift(timedelta(minutes=1))
    assert tasks.alert_groups_expire() == 1
    assert tasks.alert_groups_expire() == 0  # nothing left to do

    group.refresh_from_db()
    assert (group.status, group.firing_count, group.resolved_at) == (
        "resolved",
        0,
        START + timedelta(minutes=50),
    )
    assert set(group.alerts.values_list("status", flat=True)) == {AlertStatus.RESOLVED}
    incident = group.incident
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolution_code == ResolutionCode.AUTO_RESOLVED
    assert "no new alert in Quiet for 30 minutes" in incident.resolution_notes
    resolved = incident.events.get(type=EventType.TRANSITION, data__to=IncidentStatus.RESOLVED)
    assert resolved.actor is None and resolved.source == "alert"


def test_integrations_without_the_setting_are_left_alone(clock, make_integration):
    group = _fire(make_integration(name="Loud"), "disk")

    clock.shift(timedelta(days=3))

    assert tasks.alert_groups_expire() == 0
    group.refresh_from_db()
    assert group.status == AlertStatus.FIRING


def test_a_firing_after_the_expiry_opens_a_new_incident(clock, make_integration):
    quiet = make_integration(name="Quiet", resolve_after_minutes=5)
    first = _fire(quiet, "disk")
    clock.shift(timedelta(minutes=6))
    tasks.alert_groups_expire()

    again = _fire(quiet, "disk")

    assert again.pk != first.pk and again.incident != first.incident
    assert AlertGroup.objects.filter(status=AlertStatus.FIRING).get() == again


def test_the_job_runs_every_minute(db):
    schedule = Schedule.objects.get(func="incidents.alerts.tasks.alert_groups_expire")

    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_runs_resolve_each_group_once(make_integration):
    quiet = make_integration(name="Quiet", resolve_after_minutes=1)
    groups = [_fire(quiet, f"group-{n}") for n in range(5)]

    with time_machine.travel(timedelta(minutes=2)):
        counts = all_succeed(*[tasks.alert_groups_expire for _ in range(4)])

    assert sum(counts) == 5
    for group in groups:
        transitions = group.incident.events.filter(type=EventType.TRANSITION)
        assert transitions.filter(data__to=IncidentStatus.RESOLVED).count() == 1
