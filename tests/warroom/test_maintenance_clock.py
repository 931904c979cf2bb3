"""Maintenances on the clock (warroom/status/maintenance_clock.py): a scheduled maintenance
with automatic transitions is in progress (its components under maintenance) when its window
opens and completed when it closes, each with a public note by the system that subscribers
hear of; once per transition however many ticks and clocks; the clock sleeps until the next
one; people keep control (off, or moving it by hand)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from incidents import clock
from incidents.choices import ChangeSource
from itsm.errors import PermissionDeniedError
from tests.concurrency import all_succeed
from tests.incidents.test_admin import form_data
from tests.warroom.status_fixtures import make_component
from warroom.models import Maintenance
from warroom.status import maintenance_clock, services, subscriptions

CLI = ChangeSource.CLI
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START = T0 + timedelta(hours=1)
END = T0 + timedelta(hours=2)


@pytest.fixture
def travel():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def api_component(manager):
    return make_component(manager, "API")


@pytest.fixture
def scheduled(travel, manager, api_component):
    """A database upgrade from START to END on the API, announced at T0."""
    return services.maintenance_create(
        actor=manager,
        source=CLI,
        name="Database upgrade",
        body="We upgrade the database.",
        scheduled_for=START,
        scheduled_until=END,
        components=[api_component],
    )


@pytest.fixture
def tick_at(travel, committing):
    """Tick at `moment` with a fresh clock, running what its commits queue (the emails)."""

    def run(moment):
        travel.move_to(moment)
        return committing(clock.tick)

    return run


def notes(maintenance) -> list[tuple[str, str, object]]:
    """Its updates, oldest first: (status, body, author)."""
    rows = maintenance.updates.order_by("created_at", "id")
    return [(u.status, u.body, u.author) for u in rows]


def api_state(client) -> str:
    [component] = client.get("/status/api/v2/components.json").json()["components"]
    return component["status"]


def test_a_maintenance_starts_and_completes_on_the_clock(scheduled, tick_at, client, manager):
    subscriber = subscriptions.subscriber_subscribe(email="ann@example.com")
    subscriptions.subscriber_confirm(subscriber=subscriber)

    tick_at(START - timedelta(seconds=1))  # (it sends the confirmation email)
    assert Maintenance.objects.get().status == "scheduled"
    assert api_state(client) == "operational"
    mail.outbox.clear()

    fired = tick_at(START)
    assert fired[maintenance_clock.START_WORK] == 1
    maintenance = Maintenance.objects.get()
    assert (maintenance.status, maintenance.started_at) == ("in_progress", START)
    assert notes(maintenance)[-1] == ("in_progress", services.STARTED_NOTE, None)
    assert api_state(client) == "under_maintenance"
    assert (
        "Scheduled maintenance is currently in progress." in client.get("/status/").content.decode()
    )
    [started] = mail.outbox
    assert started.subject.endswith("Maintenance Database upgrade: In progress")

    tick_at(START + timedelta(minutes=30))
    tick_at(END)
    maintenance.refresh_from_db()
    assert (maintenance.status, maintenance.completed_at) == ("completed", END)
    assert notes(maintenance) == [
        ("scheduled", "We upgrade the database.", manager),
        ("in_progress", services.STARTED_NOTE, None),
        ("completed", services.COMPLETED_NOTE, None),
    ]
    assert api_state(client) == "operational"
    assert [m.subject.rsplit(": ", 1)[1] for m in mail.outbox] == ["In progress", "Completed"]
    history = maintenance.history.values_list("history_change_reason", flat=True)
    assert "update completed by system (job)" in history


def test_the_clock_sleeps_until_the_next_start_or_end(scheduled, travel):
    travel.move_to(START - timedelta(seconds=30))
    assert maintenance_clock.next_start(START - timedelta(seconds=30)) == START
    travel.move_to(START - timedelta(seconds=0.4))
    assert clock.seconds_until_next_due(after=START - timedelta(seconds=0.4)) == pytest.approx(
        0.4, abs=0.01
    )
    clock.tick(now=START)
    assert maintenance_clock.next_start(START) is None
    assert maintenance_clock.next_end(START) == END


def test_a_window_that_passed_while_no_clock_ran_is_completed_once(scheduled, tick_at):
    tick_at(END + timedelta(hours=1))
    maintenance = Maintenance.objects.get()
    assert [status for status, _, _ in notes(maintenance)] == ["scheduled", "completed"]
    assert maintenance.started_at is None


def test_people_keep_control(scheduled, tick_at, manager):
    services.maintenance_set_auto_transition(
        maintenance=scheduled, actor=manager, source=CLI, auto_transition=False
    )
    tick_at(START)
    tick_at(END)
    assert Maintenance.objects.get().status == "scheduled"

    services.maintenance_set_auto_transition(
        maintenance=scheduled, actor=manager, source=CLI, auto_transition=True
    )
    services.maintenance_post_update(
        maintenance=scheduled, actor=manager, source=CLI, status="completed", body="Done early."
    )
    tick_at(END + timedelta(minutes=1))
    assert [status for status, _, _ in notes(scheduled)] == ["scheduled", "completed"]


def test_one_started_by_hand_is_completed_at_its_end(scheduled, tick_at, manager):
    services.maintenance_post_update(
        maintenance=scheduled, actor=manager, source=CLI, status="verifying", body="Checking."
    )
    tick_at(START)
    tick_at(END)
    assert [status for status, _, _ in notes(scheduled)] == ["scheduled", "verifying", "completed"]


def test_only_managers_switch_the_clock(scheduled, responder):
    with pytest.raises(PermissionDeniedError):
        services.maintenance_set_auto_transition(
            maintenance=scheduled, actor=responder, source=CLI, auto_transition=False
        )


def test_the_admin_schedules_one_for_people_and_switches_the_clock(signed_in, manager, travel):
    client = signed_in(manager)
    add = reverse("admin:warroom_maintenance_add")
    fields = form_data(client.get(add)) | {
        "name": "Network swap",
        "status": "scheduled",
        "scheduled_for_0": "2026-03-02",
        "scheduled_for_1": "22:00",
        "scheduled_until_0": "2026-03-02",
        "scheduled_until_1": "23:00",
        "body": "We swap a switch.",
    }
    fields.pop("auto_transition", None)  # unticked
    assert client.post(add, fields).status_code == 302
    maintenance = Maintenance.objects.get()
    assert maintenance.auto_transition is False

    listing = reverse("admin:warroom_maintenance_changelist")
    response = client.post(
        listing, {"action": "transition_automatically", "_selected_action": [maintenance.pk]}
    )
    assert response.status_code == 302
    maintenance.refresh_from_db()
    assert maintenance.auto_transition is True
    assert maintenance.history.latest().history_change_reason == (
        "automatic transitions on by mona (admin)"
    )


def test_the_api_shows_whether_the_clock_moves_it(api, manager, scheduled):
    [row] = api.as_user(manager).get("/api/maintenances/").json()["results"]
    assert row["auto_transition"] is True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_clocks_at_once_move_each_maintenance_once(travel, manager):
    api = make_component(manager, "API")
    for n in range(3):
        services.maintenance_create(
            actor=manager,
            source=CLI,
            name=f"Upgrade {n}",
            body="Planned.",
            scheduled_for=START,
            scheduled_until=END,
            components=[api],
        )
    travel.move_to(START)
    all_succeed(clock.tick, clock.tick)
    travel.move_to(END)
    all_succeed(clock.tick, clock.tick)
    for maintenance in Maintenance.objects.all():
        assert [status for status, _, _ in notes(maintenance)] == [
            "scheduled",
            "in_progress",
            "completed",
        ]
