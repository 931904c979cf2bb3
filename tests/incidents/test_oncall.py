"""On-call resolution (turns, hand-offs, layers, ends, overrides, daylight saving), the shifts
shown for a window, the override write, and the portal's on-call page."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Rotation, RotationMember, Schedule, ScheduleOverride
from incidents.oncall.services import (
    OVERRIDE,
    oncall_at,
    oncall_entry,
    oncall_shifts,
    schedule_override_create,
)
from itsm.errors import PermissionDeniedError, ValidationFailed
from itsm.roles import Role

MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
ONCALL_URL = reverse("incidents:oncall")


@pytest.fixture
def people(make_user):
    names = {
        "alice": "Alice Archer",
        "bob": "Bob Baker",
        "carol": "Carol Cruz",
        "dave": "Dave Dunn",
    }
    return {
        username: make_user(
            username, roles=[Role.RESPONDER], first_name=full.split()[0], last_name=full.split()[1]
        )
        for username, full in names.items()
    }


def make_schedule(name="Primary", *, time_zone="UTC", team=None) -> Schedule:
    slug = name.lower().replace(" ", "-")
    return Schedule.objects.create(slug=slug, name=name, time_zone=time_zone, team=team)


def add_rotation(
    schedule, members, *, layer=1, handoff=MONDAY, length=DAY, ends_at=None, name=None
) -> Rotation:
    rotation = Rotation.objects.create(
        schedule=schedule,
        name=name or f"Layer {layer}",
        layer=layer,
        handoff_at=handoff,
        shift_length=length,
        ends_at=ends_at,
    )
    for position, user in enumerate(members, start=1):
        RotationMember.objects.create(rotation=rotation, user=user, position=position)
    return rotation


def add_override(schedule, user, starts_at, ends_at, *, created_at=None) -> ScheduleOverride:
    return ScheduleOverride.objects.create(
        schedule=schedule,
        user=user,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=created_at or starts_at - DAY,
    )


def who(schedule, at) -> str | None:
    user = oncall_at(schedule=schedule, at=at)
    return user.username if user else None


def shifts(schedule, start, end) -> list[tuple]:
    return [
        (s.start, s.end, s.user.username, s.source)
        for s in oncall_shifts(schedule=schedule, start=start, end=end)
    ]


# --- rotations -----------------------------------------------------------------------------------


def test_members_take_turns_from_the_handoff_and_wrap_around(people):
    schedule = make_schedule()
    add_rotation(schedule, [people["alice"], people["bob"], people["carol"]])

    assert who(schedule, MONDAY) == "alice"
    assert who(schedule, MONDAY + DAY - timedelta(seconds=1)) == "alice"
    assert who(schedule, MONDAY + DAY) == "bob"
    assert who(schedule, MONDAY + 2 * DAY + 5 * HOUR) == "carol"
    assert who(schedule, MONDAY + 3 * DAY) == "alice"
    assert who(schedule, MONDAY + 100 * DAY) == "bob"  # turn 100, 100 mod 3 = 1


def test_nobody_is_on_call_before_the_first_handoff_or_from_the_rotations_end(people):
    schedule = make_schedule()
    add_rotation(schedule, [people["alice"], people["bob"]], ends_at=MONDAY + 10 * DAY)

    assert who(schedule, MONDAY - timedelta(seconds=1)) is None
    assert who(schedule, MONDAY + 10 * DAY - timedelta(seconds=1)) == "bob"
    assert who(schedule, MONDAY + 10 * DAY) is None


def test_a_schedule_without_rotations_or_members_has_nobody_on_call(people):
    empty = make_schedule("Empty")
    memberless = make_schedule("Memberless")
    add_rotation(memberless, [])

    assert who(empty, MONDAY) is None
    assert who(memberless, MONDAY + HOUR) is None


def test_the_highest_layer_with_someone_on_call_wins(people):
    schedule = make_schedule()
    add_rotation(schedule, [people["alice"], people["bob"]], length=7 * DAY, name="Weekly")
    add_rotation(
        schedule,
        [people["dave"]],
        layer=2,
        handoff=MONDAY + 2 * DAY,
        ends_at=MONDAY + 3 * DAY,
        name="Cover",
    )

    assert oncall_entry(schedule=schedule, at=MONDAY + DAY) == (people["alice"], "Weekly")
    assert oncall_entry(schedule=schedule, at=MONDAY + 2 * DAY) == (people["dave"], "Cover")
    assert oncall_entry(schedule=schedule, at=MONDAY + 3 * DAY) == (people["alice"], "Weekly")


def test_handoffs_keep_the_schedules_wall_clock_across_daylight_saving(people):
    """Berlin moves to summer time on Sunday 29 March 2026: the Monday 09:00 hand-off after it
    happens at 09:00 local, which is 07:00 UTC instead of 08:00."""
    berlin = ZoneInfo("Europe/Berlin")
    schedule = make_schedule(time_zone="Europe/Berlin")
    handoff = datetime(2026, 3, 23, 9, 0, tzinfo=berlin)  # 08:00 UTC in winter time
    add_rotation(
        schedule, [people["alice"], people["bob"]], handoff=handoff, length=7 * DAY, name="Weekly"
    )
    summer_handoff = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    until = datetime(2026, 4, 2, tzinfo=UTC)

    assert who(schedule, summer_handoff - timedelta(seconds=1)) == "alice"
    assert who(schedule, summer_handoff) == "bob"
    assert shifts(schedule, handoff, until) == [
        (handoff, summer_handoff, "alice", "Weekly"),
        (summer_handoff, until, "bob", "Weekly"),
    ]


# --- overrides -----------------------------------------------------------------------------------


def test_an_override_beats_every_layer_while_it_lasts(people):
    schedule = make_schedule()
    add_rotation(schedule, [people["alice"]])
    add_rotation(schedule, [people["bob"]], layer=2)
    add_override(schedule, people["carol"], MONDAY + 2 * HOUR, MONDAY + 4 * HOUR)

    assert who(schedule, MONDAY + 2 * HOUR - timedelta(seconds=1)) == "bob"
    assert oncall_entry(schedule=schedule, at=MONDAY + 2 * HOUR) == (people["carol"], OVERRIDE)
    assert who(schedule, MONDAY + 4 * HOUR) == "bob"


def test_an_override_covers_a_gap_in_the_rotations(people):
    schedule = make_schedule()
    add_rotation(schedule, [people["alice"]], ends_at=MONDAY + DAY)
    add_override(schedule, people["dave"], MONDAY + 2 * DAY, MONDAY + 3 * DAY)

    assert who(schedule, MONDAY + 2 * DAY + HOUR) == "dave"


def test_the_latest_created_override_wins_where_overrides_overlap(people):
    schedule = make_schedule()
    add_rotation(schedule, [people["alice"]])
    add_override(schedule, people["bob"], MONDAY, MONDAY + 8 * HOUR, created_at=MONDAY - HOUR)
    add_override(
        schedule, people["carol"], MONDAY + 2 * HOUR, MONDAY + 4 * HOUR, created_at=MONDAY - DAY
    )
    add_override(schedule, people["dave"], MONDAY + 3 * HOUR, MONDAY + 5 * HOUR, created_at=MONDAY)

    assert who(schedule, MONDAY + 2 * HOUR) == "bob"  # carol's was created earlier
    assert who(schedule, MONDAY + 3 * HOUR) == "dave"
    assert who(schedule, MONDAY + 6 * HOUR) == "bob"


def test_overrides_of_another_schedule_do_not_count(people):
    primary, secondary = make_schedule("Primary"), make_schedule("Secondary")
    add_rotation(primary, [people["alice"]])
    add_override(secondary, people["bob"], MONDAY, MONDAY + DAY)

    assert who(primary, MONDAY + HOUR) == "alice"


# --- shifts for display --------------------------------------------------------------------------


def test_shifts_list_each_turn_and_override_and_leave_gaps_out(people):
    schedule = make_schedule()
    add_rotation(
        schedule,
        [people["alice"], people["bob"]],
        ends_at=MONDAY + 3 * DAY,
        name="Daily",
    )
    add_override(schedule, people["carol"], MONDAY + 12 * HOUR, MONDAY + 14 * HOUR)

    result = shifts(schedule, MONDAY + 6 * HOUR, MONDAY + 4 * DAY)

    assert result == [
        (MONDAY + 6 * HOUR, MONDAY + 12 * HOUR, "alice", "Daily"),
        (MONDAY + 12 * HOUR, MONDAY + 14 * HOUR, "carol", OVERRIDE),
        (MONDAY + 14 * HOUR, MONDAY + DAY, "alice", "Daily"),
        (MONDAY + DAY, MONDAY + 2 * DAY, "bob", "Daily"),
        (MONDAY + 2 * DAY, MONDAY + 3 * DAY, "alice", "Daily"),
    ]


def test_consecutive_turns_of_the_same_person_make_one_shift(people):
    schedule = make_schedule()
    add_rotation(schedule, [people["alice"]], length=HOUR, name="Solo")

    assert shifts(schedule, MONDAY, MONDAY + 2 * DAY) == [
        (MONDAY, MONDAY + 2 * DAY, "alice", "Solo")
    ]


def test_shifts_and_oncall_at_agree_at_every_hour(people):
    schedule = make_schedule(time_zone="America/New_York")
    add_rotation(schedule, [people["alice"], people["bob"], people["carol"]], length=8 * HOUR)
    add_rotation(
        schedule, [people["dave"]], layer=2, handoff=MONDAY + DAY, ends_at=MONDAY + 2 * DAY
    )
    add_override(schedule, people["bob"], MONDAY + 30 * HOUR, MONDAY + 33 * HOUR)
    listed = oncall_shifts(schedule=schedule, start=MONDAY, end=MONDAY + 4 * DAY)

    for hour in range(0, 96):
        at = MONDAY + hour * HOUR + timedelta(minutes=30)
        covering = [s.user for s in listed if s.start <= at < s.end]
        assert covering == [oncall_at(schedule=schedule, at=at)], at


# --- the override write --------------------------------------------------------------------------


def test_a_responder_may_put_someone_else_on_call_only_for_a_time_of_their_own(people, responder):
    schedule = make_schedule()

    override = schedule_override_create(
        actor=responder,
        schedule=schedule,
        user=responder,
        starts_at=MONDAY,
        ends_at=MONDAY + DAY,
        reason=" swap with Bob ",
    )
    with pytest.raises(PermissionDeniedError):  # the last hour is not rita's to give
        schedule_override_create(
            actor=responder,
            schedule=schedule,
            user=people["bob"],
            starts_at=MONDAY + HOUR,
            ends_at=MONDAY + DAY + HOUR,
        )

    assert override.reason == "swap with Bob"
    assert who(schedule, MONDAY + HOUR) == responder.username
    assert ScheduleOverride.objects.count() == 1


def test_a_manager_may_put_anyone_on_call(people, manager):
    schedule = make_schedule()

    schedule_override_create(
        actor=manager, schedule=schedule, user=people["bob"], starts_at=MONDAY, ends_at=MONDAY + DAY
    )

    assert who(schedule, MONDAY + HOUR) == "bob"


def test_an_override_must_end_after_it_starts(manager, people):
    schedule = make_schedule()

    with pytest.raises(ValidationFailed) as failure:
        schedule_override_create(
            actor=manager, schedule=schedule, user=people["bob"], starts_at=MONDAY, ends_at=MONDAY
        )

    assert set(failure.value.fields) == {"ends_at"}
    assert not ScheduleOverride.objects.exists()


def test_stakeholders_may_not_add_overrides(stakeholder):
    schedule = make_schedule()

    with pytest.raises(PermissionDeniedError):
        schedule_override_create(
            actor=stakeholder,
            schedule=schedule,
            user=stakeholder,
            starts_at=MONDAY,
            ends_at=MONDAY + DAY,
        )


# --- the portal page -----------------------------------------------------------------------------


@pytest.fixture
def board(people, team):
    """Two schedules at Tuesday 10:00: Primary (daily alice/bob, carol covering tonight) and
    Secondary (dave, but only from Thursday)."""
    primary = make_schedule("Primary", team=team)
    add_rotation(primary, [people["alice"], people["bob"]], name="Daily")
    add_override(primary, people["carol"], MONDAY + DAY + 10 * HOUR, MONDAY + DAY + 14 * HOUR)
    secondary = make_schedule("Secondary")
    add_rotation(secondary, [people["dave"]], handoff=MONDAY + 3 * DAY, name="Weekly")
    with time_machine.travel(MONDAY + DAY + HOUR, tick=False):
        yield primary, secondary


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(ONCALL_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_users_without_a_role_get_403(client, nobody):
    client.force_login(nobody)

    assert client.get(ONCALL_URL).status_code == 403


@pytest.mark.parametrize("role", ["responder", "stakeholder", "manager"])
def test_every_role_sees_who_is_on_call_now_and_the_next_two_weeks(request, client, board, role):
    client.force_login(request.getfixturevalue(role))

    response = client.get(ONCALL_URL)

    page = response.content.decode()
    assert response.status_code == 200
    bob = '<span class="person" title="bob">Bob Baker</span>'
    assert page.count(f"On call now: <strong>{bob}</strong>") == 1
    assert "Nobody is on call now." in page  # Secondary starts on Thursday
    assert "Carol Cruz" in page and 'tag-override">override</span>' in page
    assert "Payments" in page  # Primary's team
    assert "Thu 8 Jan, 09:00" in page  # Dave's first shift starts
    assert "Nobody on call" in page
    assert "Tue 20 Jan, 10:00" in page  # two weeks from now
    assert 'href="/oncall/" aria-current="page"' in page


def test_times_are_shown_in_the_schedules_time_zone(client, responder, people):
    schedule = make_schedule("Tokyo desk", time_zone="Asia/Tokyo")
    add_rotation(schedule, [people["alice"], people["bob"]], name="Daily")
    client.force_login(responder)

    with time_machine.travel(MONDAY + HOUR, tick=False):
        page = client.get(ONCALL_URL).content.decode()

    assert "times in Asia/Tokyo" in page
    assert "Tue 6 Jan, 18:00" in page  # 09:00 UTC hand-off = 18:00 in Tokyo


def test_the_nav_links_to_the_page_for_roles_that_may_see_it(client, responder):
    client.force_login(responder)

    page = client.get(reverse("incidents:dashboard")).content.decode()

    assert f'href="{ONCALL_URL}"' in page


def test_an_empty_install_says_there_are_no_schedules(client, responder):
    client.force_login(responder)

    page = client.get(ONCALL_URL).content.decode()

    assert "No on-call schedules yet" in page


def _page_queries(client, people, count) -> list[str]:
    for n in range(Schedule.objects.count(), count):
        schedule = make_schedule(f"Schedule {n}")
        add_rotation(schedule, [people["alice"], people["bob"]])
        add_override(schedule, people["carol"], MONDAY + HOUR, MONDAY + 2 * HOUR)
    with time_machine.travel(MONDAY, tick=False), CaptureQueriesContext(connection) as queries:
        response = client.get(ONCALL_URL)
    assert response.content.decode().count("On call now:") == count
    return [query["sql"] for query in queries]


def test_the_page_costs_the_same_queries_for_1_or_8_schedules(client, responder, people):
    client.force_login(responder)

    one, eight = _page_queries(client, people, 1), _page_queries(client, people, 8)

    assert len(one) == len(eight)
    # schedules with their teams, rotations, members with their users, overrides
    assert len([sql for sql in eight if "incidents_" in sql]) == 4
