"""The completion rate of action items: done on time / due, per team and overall."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postmortems.action_items import action_item_update
from postmortems.selectors import action_item_completion, action_item_completion_by_team
from tests.factories import make_incident

TODAY = date(2026, 3, 20)


def _finish(item, actor, *, on: datetime, status="done", **fields):
    with time_machine.travel(on, tick=False):
        action_item_update(item=item, actor=actor, source="cli", status=status, **fields)


@pytest.fixture
def items(make_item, responder, team):
    """Payments: done on time, done late (the next morning), overdue, won't do, not due yet.
    No team: done on time a week early, and one still open but not yet due."""
    payments = make_incident(actor=responder, team=team)
    due = date(2026, 3, 10)
    dates = (due, due, due, due, date(2026, 4, 1))
    on_time, late, _overdue, dropped, _later = (
        make_item(incident=payments, due_date=day) for day in dates
    )
    _finish(on_time, responder, on=datetime(2026, 3, 10, 23, 30, tzinfo=UTC))
    _finish(late, responder, on=datetime(2026, 3, 11, 0, 30, tzinfo=UTC))
    _finish(
        dropped,
        responder,
        on=datetime(2026, 3, 9, tzinfo=UTC),
        status="wont_do",
        wont_do_reason="Moot",
    )
    early = make_item(due_date=date(2026, 4, 1))
    make_item(due_date=date(2026, 4, 1))
    _finish(early, responder, on=datetime(2026, 3, 15, tzinfo=UTC))


@pytest.mark.django_db
def test_overall(items):
    with CaptureQueriesContext(connection) as queries:
        overall = action_item_completion(today=TODAY)
    assert len(queries) == 1
    assert (overall.team, overall.due, overall.done_on_time, overall.overdue) == (None, 4, 2, 1)
    assert overall.rate == 0.5


@pytest.mark.django_db
def test_per_team(items):
    with CaptureQueriesContext(connection) as queries:
        rates = action_item_completion_by_team(today=TODAY)
    assert len(queries) == 1
    assert [(r.team, r.due, r.done_on_time, r.overdue) for r in rates] == [
        ("payments", 3, 1, 1),
        (None, 1, 1, 0),
    ]
    assert rates[0].rate == pytest.approx(1 / 3) and rates[1].rate == 1.0


@pytest.mark.django_db
def test_done_on_time_is_judged_in_the_portal_time_zone(items, settings):
    """At 00:30 UTC on the 11th it is still the 10th in New York: on time there."""
    settings.TIME_ZONE = "America/New_York"
    assert action_item_completion(today=TODAY).done_on_time == 3


@pytest.mark.django_db
def test_nothing_due_has_no_rate():
    overall = action_item_completion(today=TODAY)
    assert (overall.due, overall.rate) == (0, None)
    assert action_item_completion_by_team(today=TODAY) == []
