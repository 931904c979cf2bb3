"""Overdue action items nag their owners once a day and the review owner once a week, as
django-q2 scheduled jobs, never twice for one day, not even from two workers at once."""

import threading
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connections
from django_q.models import Schedule

from itsm.choices import NotificationChannel
from itsm.models import Notification
from postmortems import tasks
from postmortems.action_items import action_item_update
from postmortems.models import ActionItemNag, PostIncidentReview

JOIN_TIMEOUT = 60


def _at(day: int, hour: int = 8) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def _emails(user):
    return list(
        Notification.objects.filter(recipient=user, channel=NotificationChannel.EMAIL).order_by(
            "pk"
        )
    )


def _run(job, when: datetime, committing) -> int:
    with time_machine.travel(when, tick=False):
        return committing(job)


@pytest.mark.django_db
def test_migrations_schedule_the_jobs():
    schedules = {row.func: row.schedule_type for row in Schedule.objects.all()}
    assert schedules["postmortems.tasks.nag_action_item_owners"] == Schedule.DAILY
    assert schedules["postmortems.tasks.nag_review_owners"] == Schedule.WEEKLY


@pytest.mark.django_db
def test_an_owner_gets_one_message_a_day_listing_their_overdue_items(
    make_item, responder, committing
):
    first = make_item(title="Alert on errors", due_date=date(2026, 3, 9))
    second = make_item(title="Add a runbook", due_date=date(2026, 3, 10), priority="P0")
    third = make_item(title="Not due yet", due_date=date(2026, 3, 11))

    assert _run(tasks.nag_action_item_owners, _at(9), committing) == 0  # due today: not late
    assert _run(tasks.nag_action_item_owners, _at(11), committing) == 1
    assert _run(tasks.nag_action_item_owners, _at(11, 15), committing) == 0  # same day again
    [email] = _emails(responder)
    assert email.subject == "2 overdue action items"
    assert "Alert on errors (owner rita, due 2026-03-09, 2 days late)" in email.body
    assert "[P0] Add a runbook (owner rita, due 2026-03-10, 1 day late)" in email.body
    assert "Not due yet" not in email.body
    assert Notification.objects.filter(recipient=responder).count() == 2  # email and in-app

    assert _run(tasks.nag_action_item_owners, _at(12), committing) == 1  # the next day
    assert [email.subject for email in _emails(responder)][1] == "3 overdue action items"
    nags = ActionItemNag.objects.filter(kind="owner").values_list("item", "day")
    assert sorted(nags) == [
        (first.pk, date(2026, 3, 11)),
        (first.pk, date(2026, 3, 12)),
        (second.pk, date(2026, 3, 11)),
        (second.pk, date(2026, 3, 12)),
        (third.pk, date(2026, 3, 12)),
    ]


@pytest.mark.django_db
def test_a_nag_that_fails_to_write_its_message_is_not_recorded(make_item, monkeypatch, committing):
    """The nag rows and the notification rows commit together: a failure leaves neither, and
    the next run sends the day's message."""
    make_item(due_date=date(2026, 3, 1))

    def broken(**kwargs):
        raise RuntimeError("the notification table is gone")

    monkeypatch.setattr("postmortems.action_items.notify", broken)
    with pytest.raises(RuntimeError):
        _run(tasks.nag_action_item_owners, _at(11), committing)
    assert not ActionItemNag.objects.exists()

    monkeypatch.undo()
    assert _run(tasks.nag_action_item_owners, _at(11, 9), committing) == 1
    assert ActionItemNag.objects.count() == 1


@pytest.mark.django_db
def test_done_and_wont_do_items_stop_nagging(make_item, responder, committing):
    done = make_item(due_date=date(2026, 3, 1))
    dropped = make_item(due_date=date(2026, 3, 1))
    action_item_update(item=done, actor=responder, source="cli", status="done")
    action_item_update(
        item=dropped, actor=responder, source="cli", status="wont_do", wont_do_reason="Moot"
    )
    assert _run(tasks.nag_action_item_owners, _at(11), committing) == 0
    assert _emails(responder) == []


@pytest.mark.django_db
def test_each_owner_hears_of_their_own_items(make_item, manager, responder, committing):
    make_item(title="Rita's", due_date=date(2026, 3, 1))
    make_item(title="Mona's", owner=manager, due_date=date(2026, 3, 1))
    assert _run(tasks.nag_action_item_owners, _at(11), committing) == 2
    [rita] = _emails(responder)
    [mona] = _emails(manager)
    assert "Rita's" in rita.body and "Mona's" not in rita.body
    assert "Mona's" in mona.body and "Rita's" not in mona.body


@pytest.mark.django_db
def test_the_review_owner_gets_one_message_a_week(
    make_item, incident, manager, responder, committing
):
    PostIncidentReview.objects.create(incident=incident, owner=manager, due_at=_at(2))
    make_item(title="Alert on errors", due_date=date(2026, 3, 2))

    assert _run(tasks.nag_review_owners, _at(11), committing) == 1  # Wednesday
    assert _run(tasks.nag_review_owners, _at(13), committing) == 0  # Friday, same week
    assert _run(tasks.nag_review_owners, _at(16), committing) == 1  # Monday, the next week
    emails = _emails(manager)
    assert [email.subject for email in emails] == ["1 overdue action item of your reviews"] * 2
    assert "(owner rita, due 2026-03-02" in emails[0].body
    days = ActionItemNag.objects.filter(kind="review_owner").values_list("day", flat=True)
    assert sorted(days) == [date(2026, 3, 9), date(2026, 3, 16)]


@pytest.mark.django_db
def test_no_review_owner_no_weekly_nag(make_item, committing):
    make_item(due_date=date(2026, 3, 2))
    assert _run(tasks.nag_review_owners, _at(11), committing) == 0
    assert not ActionItemNag.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_send_one_message(make_item, make_user, manager, responder):
    """Two workers run the daily job at the same moment, several times, each in its own
    transaction and connection: each owner gets one message for the day."""
    for n in range(3):
        make_item(title=f"Rita's {n}", due_date=date(2026, 3, 1))
        make_item(title=f"Mona's {n}", owner=manager, due_date=date(2026, 3, 1))
    start = threading.Barrier(2)
    nagged: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            start.wait(timeout=JOIN_TIMEOUT)
            with time_machine.travel(_at(11), tick=False):
                nagged.extend(tasks.nag_action_item_owners() for _ in range(3))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(JOIN_TIMEOUT)

    assert not errors, errors
    assert sum(nagged) == 2 and len(nagged) == 6
    assert len(_emails(responder)) == 1 and len(_emails(manager)) == 1
    assert ActionItemNag.objects.count() == 6
