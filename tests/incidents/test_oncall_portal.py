"""Taking and giving on-call shifts from the on-call page: a responder puts themselves on call
or gives a shift of theirs to someone else; a manager sets anyone's; the rules hold in the API
too, and every override keeps who set it up."""

import pytest
import time_machine
from django.urls import reverse

from incidents.models import ScheduleOverride
from incidents.oncall.services import oncall_at, schedule_override_create
from itsm.errors import ValidationFailed
from itsm.roles import Role
from tests.conftest import api_error
from tests.incidents.test_oncall import (
    DAY,
    HOUR,
    MONDAY,
    ONCALL_URL,
    add_rotation,
    make_schedule,
)

OVERRIDE_URL = reverse("incidents:oncall-override")
NOW = MONDAY + HOUR  # rita is on call (Monday 09:00 to Tuesday 09:00), then bob


@pytest.fixture
def people(make_user):
    return {
        name: make_user(name, roles=[Role.RESPONDER], first_name=name.title())
        for name in ("bob", "carol")
    }


@pytest.fixture
def primary(responder, people):
    schedule = make_schedule("Primary")
    add_rotation(schedule, [responder, people["bob"]], name="Daily")
    with time_machine.travel(NOW, tick=False):
        yield schedule


def override(user, start, end, schedule="primary", **extra) -> dict:
    """The on-call page's override form; `schedule=None` for the API, whose path names it."""
    body = {"user": user, "starts_at": start.isoformat(), "ends_at": end.isoformat(), **extra}
    return body if schedule is None else {"schedule": schedule, **body}


def who(schedule, at) -> str | None:
    user = oncall_at(schedule=schedule, at=at)
    return user.get_username() if user else None


def test_the_page_offers_take_on_others_shifts_and_give_on_mine(client, responder, primary):
    client.force_login(responder)

    html = client.get(ONCALL_URL).content.decode()

    # rita's shifts (every other day, the current one first) and bob's, over the two weeks
    assert html.count("Give this shift</button>") == 8
    assert html.count('<span class="visually-hidden"> Primary ') == 7
    assert 'id="override-title">Take or give a shift</h2>' in html


def test_stakeholders_see_no_take_or_give(client, stakeholder, primary):
    client.force_login(stakeholder)

    html = client.get(ONCALL_URL).content.decode()

    assert "Give this shift" not in html and "Take or give a shift" not in html


def test_a_responder_takes_a_shift_in_one_tap(client, responder, people, primary):
    client.force_login(responder)

    response = client.post(OVERRIDE_URL, override("rita", MONDAY + DAY, MONDAY + 2 * DAY))

    assert response["Location"] == ONCALL_URL
    assert who(primary, MONDAY + DAY + HOUR) == "rita"
    taken = ScheduleOverride.objects.get()
    assert taken.created_by == responder
    assert taken.history.get().history_user == responder
    page = client.get(ONCALL_URL).content.decode()
    assert "rita is on call for Primary from Tue 6 Jan, 09:00 until Wed 7 Jan, 09:00." in page


def test_a_responder_gives_their_shift_to_someone(client, responder, people, primary):
    client.force_login(responder)

    response = client.post(OVERRIDE_URL, override("carol", NOW, MONDAY + DAY, reason="dentist"))

    assert response.status_code == 302
    assert who(primary, NOW + HOUR) == "carol"
    given = ScheduleOverride.objects.get()
    assert (given.user, given.created_by, given.reason) == (people["carol"], responder, "dentist")


def test_a_responder_may_not_give_away_a_shift_that_is_not_theirs(
    client,
    responder,
    people,
    primary,
):
    client.force_login(responder)

    response = client.post(OVERRIDE_URL, override("carol", MONDAY + DAY, MONDAY + 2 * DAY))

    assert response.status_code == 403
    assert "you are not on call for Primary for all of that time" in response.content.decode()
    assert not ScheduleOverride.objects.exists()


def test_a_manager_gives_anyones_shift(client, manager, people, primary):
    client.force_login(manager)

    response = client.post(OVERRIDE_URL, override("carol", MONDAY + DAY, MONDAY + 2 * DAY))

    assert response.status_code == 302
    assert ScheduleOverride.objects.get().created_by == manager


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        (override("rita", NOW + HOUR, NOW), "The override must end after it starts."),
        (override("stella", NOW, NOW + HOUR), "Select a valid choice."),
        (override("rita", NOW, NOW + HOUR, schedule="ghost"), "Select a valid choice."),
        ({**override("rita", NOW, NOW + HOUR), "starts_at": "soon"}, "Enter a valid date/time."),
    ],
)
def test_bad_overrides_come_back_with_the_reason(
    client, responder, stakeholder, primary, data, field_error
):
    client.force_login(responder)

    response = client.post(OVERRIDE_URL, data)

    assert response.status_code == 400
    assert f'<p class="field-error">{field_error}' in response.content.decode()
    assert not ScheduleOverride.objects.exists()


def test_only_people_who_work_incidents_can_be_put_on_call(manager, stakeholder, primary):
    with pytest.raises(ValidationFailed) as failure:
        schedule_override_create(
            actor=manager, schedule=primary, user=stakeholder, starts_at=NOW, ends_at=NOW + HOUR
        )

    assert set(failure.value.fields) == {"user"}
    assert not ScheduleOverride.objects.exists()


def test_the_api_lets_a_responder_give_their_shift_and_refuses_a_stakeholder(
    api,
    responder,
    stakeholder,
    people,
    primary,
):
    client = api.as_user(responder)
    url = "/api/schedules/primary/overrides/"

    given = client.post(url, override("bob", NOW, NOW + HOUR, schedule=None), format="json")
    to_stakeholder = client.post(
        url, override("stella", NOW, NOW + HOUR, schedule=None), format="json"
    )

    assert given.status_code == 201
    assert "user" in api_error(to_stakeholder, 400, "invalid")
    assert ScheduleOverride.objects.get().created_by == responder


def test_stakeholders_get_403_anonymous_visitors_the_login_and_a_get_the_page(
    client, stakeholder, primary
):
    anonymous = client.post(OVERRIDE_URL, override("stella", NOW, NOW + HOUR))
    client.force_login(stakeholder)
    refused = client.post(OVERRIDE_URL, override("stella", NOW, NOW + HOUR))

    assert anonymous["Location"].startswith(reverse("login"))
    assert refused.status_code == 403
    assert not ScheduleOverride.objects.exists()


def test_a_get_on_the_override_address_opens_the_page(client, responder):
    client.force_login(responder)

    assert client.get(OVERRIDE_URL)["Location"] == ONCALL_URL


def test_the_page_costs_a_fixed_number_of_queries(
    client, responder, primary, django_assert_num_queries
):
    client.force_login(responder)
    client.get(ONCALL_URL)  # notes the session's activity

    # session, user, permissions (user + group), roles, the bell; schedules with their teams,
    # rotations, members, overrides; the people a shift can be given to.
    with django_assert_num_queries(11):
        client.get(ONCALL_URL)


def test_an_override_added_in_the_admin_names_who_set_it_up(client, manager, people, primary):
    client.force_login(manager)

    response = client.post(
        reverse("admin:incidents_scheduleoverride_add"),
        {
            "schedule": primary.pk,
            "user": people["bob"].pk,
            "starts_at_0": "2026-01-06",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2026-01-06",
            "ends_at_1": "12:00:00",
            "reason": "swap",
        },
    )

    assert response.status_code == 302, response.content
    assert ScheduleOverride.objects.get().created_by == manager


def test_taking_the_shift_under_way_starts_now_not_in_the_past(client, responder, people, primary):
    """rita's shift (Monday 09:00 to Tuesday 09:00) is under way when carol takes it at 10:00:
    the hour rita already covered stays hers."""
    carol = people["carol"]
    client.force_login(carol)

    response = client.post(OVERRIDE_URL, override("carol", MONDAY, MONDAY + DAY))

    assert response.status_code == 302
    taken = ScheduleOverride.objects.get()
    assert (taken.starts_at, taken.ends_at) == (NOW, MONDAY + DAY)
    assert who(primary, NOW - HOUR / 2) == "rita"
