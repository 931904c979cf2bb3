"""Business-time arithmetic across nights, weekends, holidays and daylight-saving changes."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.sla.business_time import WorkingCalendar, add_business_time, business_time_between

LONDON = ZoneInfo("Europe/London")
NINE_TO_FIVE = ((time(9), time(17)),)


def office(holidays=()):
    return WorkingCalendar(
        time_zone=LONDON,
        hours={day: NINE_TO_FIVE for day in range(5)},
        holidays=frozenset(holidays),
    )


def london(*args):
    return datetime(*args, tzinfo=LONDON)


def test_within_one_working_day():
    start = london(2026, 11, 23, 10, 0)  # Monday
    assert add_business_time(start, timedelta(hours=4), office()) == london(2026, 11, 23, 14, 0)


def test_runs_over_the_night():
    start = london(2026, 11, 23, 15, 0)
    # 2 h left on Monday, 2 h more from Tuesday 09:00
    assert add_business_time(start, timedelta(hours=4), office()) == london(2026, 11, 24, 11, 0)


def test_started_at_night_counts_from_next_opening():
    start = london(2026, 11, 23, 22, 30)
    assert add_business_time(start, timedelta(hours=1), office()) == london(2026, 11, 24, 10, 0)


def test_skips_the_weekend():
    start = london(2026, 11, 27, 16, 0)  # Friday
    assert add_business_time(start, timedelta(hours=2), office()) == london(2026, 11, 30, 10, 0)


def test_eight_business_hours_from_friday_afternoon():
    start = london(2026, 11, 27, 13, 0)
    assert add_business_time(start, timedelta(hours=8), office()) == london(2026, 11, 30, 13, 0)


def test_skips_holidays():
    start = london(2026, 12, 24, 16, 0)  # Thursday; 25th and 28th are holidays
    calendar = office(holidays=[date(2026, 12, 25), date(2026, 12, 28)])
    assert add_business_time(start, timedelta(hours=2), calendar) == london(2026, 12, 29, 10, 0)


def test_five_business_days():
    start = london(2026, 11, 25, 12, 0)  # Wednesday
    target = add_business_time(start, timedelta(hours=5 * 8), office())
    assert target == london(2026, 12, 2, 12, 0)


def test_daylight_saving_change_keeps_local_working_hours():
    # Clocks go back on Sunday 25 Oct 2026: Friday 16:00 BST + 2 h = Monday 10:00 GMT.
    start = london(2026, 10, 23, 16, 0)
    target = add_business_time(start, timedelta(hours=2), office())
    assert target == london(2026, 10, 26, 10, 0)
    assert target.astimezone(UTC) == datetime(2026, 10, 26, 10, 0, tzinfo=UTC)


def test_night_shift_across_a_daylight_saving_change_counts_real_hours():
    # A 00:00-04:00 Sunday shift on the night clocks go forward (29 Mar 2026) lasts 3 hours.
    calendar = WorkingCalendar(time_zone=LONDON, hours={6: ((time(0), time(4)),)})
    start = london(2026, 3, 29, 0, 0)
    assert business_time_between(start, london(2026, 3, 29, 4, 0), calendar) == timedelta(hours=3)
    assert add_business_time(start, timedelta(hours=3), calendar) == london(2026, 3, 29, 4, 0)


def test_between_is_the_inverse_of_add():
    calendar = office(holidays=[date(2026, 12, 25)])
    start = london(2026, 12, 23, 11, 17)
    for hours in (0.5, 3, 7, 9, 26, 50):
        target = add_business_time(start, timedelta(hours=hours), calendar)
        assert business_time_between(start, target, calendar) == timedelta(hours=hours)


def test_between_outside_hours_is_zero():
    assert business_time_between(
        london(2026, 11, 28, 9, 0), london(2026, 11, 29, 18, 0), office()
    ) == timedelta(0)


def test_calendar_without_hours_is_refused():
    with pytest.raises(ValueError, match="working hours"):
        WorkingCalendar(time_zone=LONDON, hours={})
