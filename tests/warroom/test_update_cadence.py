"""The stakeholder-update cadence (the SLA `update` timer of the techflow preset: P1 every 30
minutes): a public status update starts the next cycle, the incident page and the war room
show when the next update is due, or that it is overdue, and a missed initial notification or
update nags the communications lead (else the commander, else the manager) once per missed
deadline, however many ticks and clocks (warroom.cadence)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import clock
from incidents.choices import ChangeSource, SlaKind
from incidents.models import SlaTimer
from incidents.sla.presets import load_preset
from itsm.choices import NotificationChannel
from itsm.models import Notification
from tests.concurrency import all_succeed
from tests.warroom.status_fixtures import post
from warroom import services
from warroom.choices import WarRoomRole
from warroom.models import CadenceNag

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def travel():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def techflow(db):
    return load_preset("techflow", make_default=True)


@pytest.fixture
def room(travel, techflow, major):
    return major


def update_timer(incident) -> SlaTimer:
    return SlaTimer.objects.get(incident=incident, kind=SlaKind.UPDATE)


def cadence_line(client, url) -> str:
    html = client.get(url).content.decode()
    start = html.index('id="update-cadence"')
    return html[start : html.index("</p>", start)]


def test_a_status_update_starts_the_next_cycle(room, travel, manager):
    assert update_timer(room.incident).target_at == T0 + timedelta(minutes=30)
    travel.shift(timedelta(minutes=20))
    post(room.incident, manager, "investigating", "We are on it.")
    assert update_timer(room.incident).target_at == T0 + timedelta(minutes=50)


def test_the_incident_page_and_the_room_show_due_then_due_soon_then_overdue(
    room, travel, manager, signed_in
):
    client = signed_in(manager)
    incident_url = f"/incidents/{room.incident.number}/"
    room_url = f"/warroom/{room.number}/"
    travel.shift(timedelta(minutes=10))
    for url in (incident_url, room_url):
        line = cadence_line(client, url)
        assert "Next stakeholder update due in 20" in line and "overdue" not in line

    travel.shift(timedelta(minutes=15))  # 25 of 30 minutes: past the techflow warning point
    for url in (incident_url, room_url):
        assert "<strong>due soon</strong>: in 5" in cadence_line(client, url)

    travel.shift(timedelta(minutes=6))
    clock.tick()
    for url in (incident_url, room_url):
        assert "<strong>overdue</strong>" in cadence_line(client, url)


def test_a_resolved_incident_shows_no_cadence(travel, techflow, p1, manager, signed_in, drive):
    drive(p1, manager, "acknowledge", "start", "resolve")
    html = signed_in(manager).get(f"/incidents/{p1.number}/").content.decode()
    assert 'id="update-cadence"' not in html


# --- nags ---------------------------------------------------------------------------------------


@pytest.fixture
def comms_lead(room, make_user, manager):
    lead = make_user("comms", roles=["responder"])
    services.role_assign(
        major=room,
        actor=manager,
        source=ChangeSource.CLI,
        role=WarRoomRole.COMMUNICATIONS_LEAD,
        user=lead,
    )
    return lead


def nag_emails(user) -> list[str]:
    return list(
        Notification.objects.filter(
            recipient=user, channel=NotificationChannel.EMAIL, dedupe_key__startswith="cadence-nag"
        ).values_list("subject", flat=True)
    )


def ticks_at(travel, *minutes):
    """Tick at each minute after T0, with a fresh clock each time (as several clocks would)."""
    for minute in minutes:
        travel.move_to(T0 + timedelta(minutes=minute))
        clock.tick()


def test_no_public_update_15_minutes_after_declaration_nags_the_communications_lead_once(
    room, travel, comms_lead
):
    ticks_at(travel, 14)
    assert nag_emails(comms_lead) == []
    ticks_at(travel, 15, 15, 16, 20)
    assert nag_emails(comms_lead) == [f"{room.number}: The initial notification is overdue"]
    assert CadenceNag.objects.get().due_at == T0 + timedelta(minutes=15)


def test_a_status_update_in_time_means_no_initial_nag(room, travel, comms_lead, manager):
    travel.shift(timedelta(minutes=5))
    post(room.incident, manager, "investigating", "We are on it.")
    ticks_at(travel, 15, 20, 30)
    assert nag_emails(comms_lead) == []


def test_each_missed_update_nags_once_across_ticks_and_clocks(room, travel, comms_lead, manager):
    travel.shift(timedelta(minutes=5))
    post(room.incident, manager, "investigating", "We are on it.")  # next due at T0+35
    ticks_at(travel, 34)
    assert nag_emails(comms_lead) == []
    ticks_at(travel, 35, 35, 36, 50, 64)
    assert nag_emails(comms_lead) == [f"{room.number}: A stakeholder update is overdue"]
    ticks_at(travel, 65, 66, 94)  # a second cycle without an update is a second miss
    assert len(nag_emails(comms_lead)) == 2
    assert [n.due_at for n in CadenceNag.objects.all()] == [
        T0 + timedelta(minutes=35),
        T0 + timedelta(minutes=65),
    ]


def test_a_clock_that_slept_through_several_deadlines_nags_once_for_the_latest(
    room, travel, comms_lead, manager
):
    ticks_at(travel, 14)
    post(room.incident, manager, "investigating", "We are on it.")  # next due at T0+44
    ticks_at(travel, 140)
    assert len(nag_emails(comms_lead)) == 1
    assert CadenceNag.objects.get().due_at == T0 + timedelta(minutes=134)


def test_a_late_update_clears_overdue_and_the_cadence_goes_on(
    room, travel, comms_lead, manager, signed_in
):
    ticks_at(travel, 14)
    post(room.incident, manager, "investigating", "We are on it.")  # next due at T0+44
    ticks_at(travel, 45)
    timer = update_timer(room.incident)
    assert timer.breached_at == T0 + timedelta(minutes=44)
    post(room.incident, manager, "identified", "Found it; rolling back.")
    timer.refresh_from_db()
    assert timer.target_at == T0 + timedelta(minutes=75)
    assert timer.breached_at == T0 + timedelta(minutes=44), "the missed update still counts"
    line = cadence_line(signed_in(manager), f"/warroom/{room.number}/")
    assert "Next stakeholder update due in 30" in line and "overdue" not in line
    ticks_at(travel, 74)
    assert len(nag_emails(comms_lead)) == 1
    ticks_at(travel, 75)
    assert len(nag_emails(comms_lead)) == 2


def test_without_a_communications_lead_the_commander_then_the_manager_is_nagged(
    room, travel, manager
):
    ticks_at(travel, 16)
    assert nag_emails(manager) == [f"{room.number}: The initial notification is overdue"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_clocks_at_once_nag_once(room, travel, comms_lead):
    travel.move_to(T0 + timedelta(minutes=16))
    all_succeed(clock.tick, clock.tick)
    assert nag_emails(comms_lead) == [f"{room.number}: The initial notification is overdue"]
