"""The stakeholder-update cadence (the SLA `update` timer of the techflow preset: P1 every 30
minutes): a public status update starts the next cycle, and the incident page and the war room
show when the next update is due, or that it is overdue."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import clock
from incidents.choices import SlaKind
from incidents.models import SlaTimer
from incidents.sla_presets import load_preset
from tests.warroom.status_fixtures import post

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


def test_the_incident_page_and_the_room_show_due_then_overdue(room, travel, manager, signed_in):
    client = signed_in(manager)
    incident_url = f"/incidents/{room.incident.number}/"
    room_url = f"/warroom/{room.number}/"
    travel.shift(timedelta(minutes=10))
    for url in (incident_url, room_url):
        line = cadence_line(client, url)
        assert "Next stakeholder update due in 20" in line and "overdue" not in line

    travel.shift(timedelta(minutes=21))
    clock.tick()
    for url in (incident_url, room_url):
        assert "<strong>overdue</strong>" in cadence_line(client, url)


def test_a_resolved_incident_shows_no_cadence(travel, techflow, p1, manager, signed_in, drive):
    drive(p1, manager, "acknowledge", "start", "resolve")
    html = signed_in(manager).get(f"/incidents/{p1.number}/").content.decode()
    assert 'id="update-cadence"' not in html
