"""django-q2's queue (itsm/task_queue.py): the broker hands out the clock's firings before any
other task, and every task oldest first, so a breach never waits behind a backlog."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Task
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from itsm import task_queue
from itsm.task_queue import UrgentFirstORM, urgent_queue
from tests.factories import make_task_result


def queue(n: int, **options) -> None:
    async_task("math.floor", n, sync=False, **options)


def taken_in_order(broker) -> list[int]:
    order = []
    while taken := broker.dequeue():
        order += [SignedPackage.loads(payload)["args"][0] for _, payload in taken]
    return order


@pytest.mark.django_db
def test_urgent_tasks_are_taken_first_and_each_kind_oldest_first(monkeypatch):
    pauses = []
    monkeypatch.setattr(task_queue, "sleep", pauses.append)
    broker = get_broker()
    for n in (1, 2):
        queue(n)
    queue(10, cluster=urgent_queue())
    queue(3)
    queue(11, cluster=urgent_queue())

    assert isinstance(broker, UrgentFirstORM)
    assert broker.queue_size() == 5
    assert taken_in_order(broker) == [10, 11, 1, 2, 3]
    assert (broker.queue_size(), broker.lock_size()) == (0, 5)
    assert len(pauses) == 1, "an empty queue: one poll's pause"


@pytest.mark.django_db
def test_the_queue_lists_what_waits_or_only_the_urgent_tasks_no_worker_took(monkeypatch):
    monkeypatch.setattr(task_queue, "sleep", lambda seconds: None)
    queue(1)
    queue(2, cluster=urgent_queue())
    get_broker().dequeue()  # a worker takes the urgent one

    queue(3, cluster=urgent_queue())

    assert task_queue.queued_task_args("math.floor") == {(1,), (2,), (3,)}
    assert task_queue.waiting_urgent_task_args("math.floor") == {(3,)}


@pytest.mark.django_db
def test_results_of_tasks_that_succeeded_are_kept_a_week():
    """django-q2 keeps every result (its own limit reads all kept results per task saved); the
    clock deletes successes older than TASK_RESULTS_DAYS and keeps every failure."""
    now = timezone.now()

    make_task_result("old", now - timedelta(days=7, seconds=1))
    make_task_result("recent", now - timedelta(days=6, hours=23))
    make_task_result("old failure", now - timedelta(days=30), success=False)

    assert task_queue.task_results_prune(now=now) == 1
    assert sorted(Task.objects.values_list("name", flat=True)) == ["old failure", "recent"]
