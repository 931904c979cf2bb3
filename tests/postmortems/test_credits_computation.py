"""The credit arithmetic (postmortems/credits/computation.py), on hand-built windows."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from postmortems.credits.computation import (
    Contract,
    Tier,
    Window,
    credit_figures,
    month_bounds,
    tier_problems,
)
from tests.postmortems.credits import AFTER_NOV, TIERS, nov

CONTRACT = Contract(Decimal("99.95"), tuple(TIERS), Decimal("1000.00"))


def figures(*spans, contract=CONTRACT, now=AFTER_NOV, month=date(2026, 11, 1)):
    windows = [
        Window(f"INC{n:07d}", "P1", started, ended) for n, (started, ended) in enumerate(spans)
    ]
    return credit_figures(windows=windows, month=month, contract=contract, now=now)


def test_the_issue_example_thirty_minutes_in_a_thirty_day_month():
    result = figures((nov(10, 9), nov(10, 9, 30)))

    assert result.period_seconds == 30 * 24 * 3600
    assert result.downtime_seconds == 1800
    assert f"{result.availability:.2f}" == "99.93"
    assert result.availability == Decimal("99.9305")  # 99.930555…, rounded down
    assert result.breached
    assert result.credit_percent == Decimal("10")  # the first tier
    assert result.credit_amount == Decimal("100.00")


def test_overlapping_windows_count_once():
    result = figures(
        (nov(10, 9), nov(10, 9, 30)),
        (nov(10, 9, 15), nov(10, 9, 45)),  # overlaps the first
        (nov(10, 9, 20), nov(10, 9, 25)),  # inside both
    )

    assert result.downtime_seconds == 45 * 60
    assert [row["seconds"] for row in result.incidents] == [1800, 1800, 300]


def test_windows_are_clipped_to_the_month():
    before = figures((datetime(2026, 10, 31, 23, 50, tzinfo=UTC), nov(1, 0, 20)))
    after = figures((nov(30, 23, 50), datetime(2026, 12, 1, 0, 20, tzinfo=UTC)))

    assert before.downtime_seconds == 20 * 60
    assert after.downtime_seconds == 10 * 60
    assert before.incidents[0]["counted_from"] == "2026-11-01T00:00:00Z"
    assert after.incidents[0]["counted_until"] == "2026-12-01T00:00:00Z"


def test_a_window_wholly_outside_the_month_is_not_counted():
    result = figures((datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)))

    assert result.downtime_seconds == 0
    assert result.incidents == []
    assert not result.breached
    assert result.credit_amount == Decimal("0.00")


def test_an_open_window_counts_until_the_month_end_or_now():
    finished = figures((nov(30, 12), None))
    ongoing = figures((nov(30, 12), None), now=nov(30, 13))

    assert finished.downtime_seconds == 12 * 3600
    assert finished.incidents[0]["ended_at"] is None
    assert ongoing.downtime_seconds == 3600


def test_the_deepest_tier_applies():
    # 1 % of 30 days is 7.2 h: 8 h down is below 99.0 %.
    result = figures((nov(5), nov(5, 8)))

    assert result.availability < Decimal("99.0")
    assert result.credit_percent == Decimal("25")
    assert result.credit_amount == Decimal("250.00")


def test_availability_exactly_at_the_target_is_no_breach():
    allowed = timedelta(seconds=30 * 24 * 3600 * 5 // 10000)  # 0.05 % of the month: 21.6 min
    result = figures((nov(5), nov(5) + allowed))

    assert result.availability == Decimal("99.9500")
    assert not result.breached
    assert result.credit_percent == 0


def test_month_bounds_are_utc_and_roll_over_the_year():
    assert month_bounds(date(2026, 12, 17)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("tiers", "problem"),
    [
        ([("99.0", "10"), ("99.5", "25")], "Thresholds must descend"),
        ([("99.9", "25"), ("99.0", "10")], "Credits must ascend"),
        ([("99.9", "10"), ("99.9", "25")], "Thresholds must descend"),
        ([("99.99", "10")], "above the availability target"),
    ],
)
def test_tier_problems(tiers, problem):
    rows = [Tier(Decimal(below), Decimal(credit)) for below, credit in tiers]

    [found] = tier_problems(rows, Decimal("99.95"))

    assert problem in found


def test_good_tiers_have_no_problem():
    assert tier_problems(TIERS, Decimal("99.95")) == []
