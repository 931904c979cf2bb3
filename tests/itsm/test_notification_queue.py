"""A notification's lease fits the send, and a backlog in the worker's queue is never queued
twice: the clock queues again only what a dead worker held or what the queue lost.

Here tasks go to django-q2's ORM broker (the OrmQ table), as in production, instead of running
inline (`queued`)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from django_q.models import OrmQ

from itsm import notifications
from itsm.checks import check_notification_lease
from itsm.choices import NotificationChannel, NotificationStatus
from itsm.models import Notification
from itsm.notifications import notification_send, notifications_retry_due, notify
from itsm.task_queue import queued_task_args
from tests.conftest import queued_sends

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def emails(committing, people, key="sla:42:breach"):
    return committing(
        notify,
        recipients=people,
        channels=[NotificationChannel.EMAIL],
        subject="SLA breach",
        body="Not acknowledged.",
        dedupe_key=key,
    )


def test_the_lease_is_seconds_and_outlasts_a_send(settings):
    assert notifications.lease() == timedelta(seconds=45)
    assert check_notification_lease() == []
    settings.CHAT_TIMEOUT = 30
    [warning] = check_notification_lease()
    assert warning.id == "itsm.W002"


@pytest.mark.usefixtures("queued")
def test_a_backlog_longer_than_many_leases_is_queued_once(committing, make_user):
    people = [make_user(f"user{n}") for n in range(5)]
    with time_machine.travel(T0, tick=False) as clock:
        rows = emails(committing, people)
        assert queued_sends() == sorted((row.pk, 0) for row in rows)

        for _ in range(4):  # no worker takes anything for four leases
            clock.shift(notifications.lease())
            assert committing(notifications_retry_due, now=timezone.now()) == 0

    assert queued_sends() == sorted((row.pk, 0) for row in rows)
    assert set(Notification.objects.values_list("status", flat=True)) == {
        NotificationStatus.PENDING
    }


@pytest.mark.usefixtures("queued")
def test_a_task_the_queue_lost_is_queued_again_once(committing, make_user):
    with time_machine.travel(T0, tick=False) as clock:
        first, second = emails(committing, [make_user("ann"), make_user("bob")])
        OrmQ.objects.filter(pk=_package_of(first.pk).pk).delete()  # the queue lost it

        clock.shift(notifications.lease())
        assert committing(notifications_retry_due, now=timezone.now()) == 1
        assert committing(notifications_retry_due, now=timezone.now()) == 0

    assert queued_sends() == sorted([(first.pk, 0), (second.pk, 0)])


@pytest.mark.usefixtures("queued")
def test_a_send_whose_worker_died_is_queued_again_when_its_lease_ends(
    committing, make_user, mailoutbox, monkeypatch
):
    with time_machine.travel(T0, tick=False) as clock:
        [row] = emails(committing, [make_user("ann")])
        _package_of(row.pk).delete()  # a worker took the task (acknowledged when done) ...
        with monkeypatch.context() as patch, pytest.raises(SystemExit):
            patch.setattr(notifications, "_attempt", _die)
            notification_send(pk=row.pk, attempt=0)  # ... claimed the row, and died mid-send

        clock.shift(notifications.lease() - timedelta(seconds=1))
        assert committing(notifications_retry_due, now=timezone.now()) == 0
        clock.shift(timedelta(seconds=1))
        assert committing(notifications_retry_due, now=timezone.now()) == 1

    assert queued_sends() == [(row.pk, 1)]
    assert notification_send(pk=row.pk, attempt=1) is True
    assert [mail.to for mail in mailoutbox] == [[row.recipient.email]]


def test_the_queue_reads_as_unknown_with_another_broker(monkeypatch):
    monkeypatch.setattr("itsm.task_queue.get_broker", object)
    assert queued_task_args(notifications.SEND_TASK) is None


def _package_of(pk: int) -> OrmQ:
    return next(package for package in OrmQ.objects.all() if package.task["args"][0] == pk)


def _die(notification):
    raise SystemExit("kill -9")
