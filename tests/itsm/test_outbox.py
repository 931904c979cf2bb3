"""The outbox (itsm/outbox.py): a step recorded in a write's transaction is carried out by the
worker once it commits, retried after a failure with a back-off until done, and done once. The
worker is synchronous in tests: a wake-up runs the item when the transaction's on-commit
callbacks run (`committing`), and the clock's tick queues, and so runs, what is due."""

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from incidents import clock
from itsm import outbox
from itsm.models import OutboxItem
from tests.concurrency import all_succeed
from tests.conftest import queued_sends

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KIND = "tests.record"
ITEMS = "/admin/itsm/outboxitem/"


@pytest.fixture
def at():
    with time_machine.travel(T0, tick=False) as traveller:
        yield lambda offset: traveller.move_to(T0 + offset)


class Handled(list):
    failures: list


@pytest.fixture
def handled(monkeypatch):
    """The payloads the `tests.record` handler carried out; it raises while `failures` holds
    errors to raise."""
    done = Handled()
    done.failures = []

    def record(payload):
        if done.failures:
            raise done.failures.pop(0)
        done.append(payload)

    monkeypatch.setitem(outbox._handlers, KIND, record)
    return done


def enqueue(payload: dict) -> OutboxItem:
    with transaction.atomic():
        return outbox.enqueue(KIND, payload)


def fresh(item: OutboxItem) -> OutboxItem:
    item.refresh_from_db()
    return item


@pytest.mark.django_db
def test_an_item_is_carried_out_once_its_transaction_commits(handled, committing):
    item = committing(enqueue, {"n": 1})

    assert handled == [{"n": 1}]
    assert (fresh(item).status, item.attempts, item.done_at is not None) == ("done", 1, True)
    # A duplicate or late task, and the clock: nothing more.
    assert outbox.outbox_item_run(pk=item.pk, attempt=0) is None
    assert committing(clock.tick, now=item.due_at + timedelta(hours=1))["outbox"] == 0
    assert handled == [{"n": 1}]


@pytest.mark.django_db
def test_a_rolled_back_write_leaves_no_item(handled, committing):
    def write_then_fail():
        with transaction.atomic():
            outbox.enqueue(KIND, {"n": 1})
            raise RuntimeError("the write failed")

    with pytest.raises(RuntimeError):
        committing(write_then_fail)

    assert not OutboxItem.objects.exists()
    assert handled == []


@pytest.mark.django_db
def test_an_unknown_kind_is_refused_in_the_write():
    with pytest.raises(LookupError, match=r"tests\.unknown"):
        outbox.enqueue("tests.unknown", {})


@pytest.mark.django_db
def test_a_failed_step_is_retried_after_its_back_off_and_done_once(handled, committing, at, caplog):
    handled.failures = [RuntimeError("chat is down")]
    with caplog.at_level(logging.WARNING):
        item = committing(enqueue, {"n": 1})

    assert handled == []
    assert (fresh(item).status, item.attempts) == ("pending", 1)
    assert item.due_at == T0 + outbox.BACKOFF[0]
    assert item.last_error == "RuntimeError: chat is down"
    assert "chat is down" in caplog.text

    at(outbox.BACKOFF[0] - timedelta(seconds=1))
    assert committing(clock.tick)["outbox"] == 0  # not before its back-off
    at(outbox.BACKOFF[0])
    assert committing(clock.tick)["outbox"] == 1
    assert handled == [{"n": 1}]
    assert (fresh(item).status, item.attempts, item.last_error) == ("done", 2, "")
    at(timedelta(hours=1))
    assert committing(clock.tick)["outbox"] == 0
    assert handled == [{"n": 1}]


@pytest.mark.django_db
def test_a_wake_up_the_broker_refuses_is_queued_by_the_next_tick(
    handled, committing, monkeypatch, at
):
    def broker_down(*args):
        raise ConnectionError("broker down")

    with monkeypatch.context() as patched:
        patched.setattr(outbox, "async_task", broker_down)
        item = committing(enqueue, {"n": 1})
    assert (fresh(item).status, item.due_at) == ("pending", T0)  # due now, not at lease end

    assert committing(clock.tick)["outbox"] == 1
    assert handled == [{"n": 1}]
    assert fresh(item).status == "done"


@pytest.mark.django_db
def test_a_lost_task_is_queued_again_when_its_lease_ends(handled, committing, monkeypatch, at):
    with monkeypatch.context() as patched:
        patched.setattr(outbox, "async_task", lambda *args: None)  # queued, then lost
        committing(enqueue, {"n": 1})

    at(outbox.LEASE - timedelta(seconds=1))
    assert committing(clock.tick)["outbox"] == 0
    at(outbox.LEASE)
    assert committing(clock.tick)["outbox"] == 1
    assert handled == [{"n": 1}]


@pytest.mark.django_db
def test_an_item_that_keeps_failing_is_marked_failed_and_logged_then_retried_by_hand(
    handled, committing, at, caplog
):
    handled.failures = [RuntimeError(f"failure {n}") for n in range(outbox.MAX_ATTEMPTS)]
    item = committing(enqueue, {"n": 1})
    with caplog.at_level(logging.ERROR):
        for _ in outbox.BACKOFF:
            at(fresh(item).due_at - T0)
            assert committing(clock.tick)["outbox"] == 1

    assert (fresh(item).status, item.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert item.last_error == f"RuntimeError: failure {outbox.MAX_ATTEMPTS - 1}"
    assert f"({KIND}) failed {outbox.MAX_ATTEMPTS} times; given up" in caplog.text
    at(timedelta(days=7))
    assert committing(clock.tick)["outbox"] == 0

    assert committing(outbox.outbox_items_retry_now, items=[item], now=T0 + timedelta(days=7))
    assert handled == [{"n": 1}]
    assert fresh(item).status == "done"


@pytest.mark.django_db
def test_a_failing_handler_s_writes_are_rolled_back_with_it(monkeypatch, committing):
    def write_then_fail(payload):
        OutboxItem.objects.create(kind="written by the handler", due_at=T0)
        raise RuntimeError("half done")

    monkeypatch.setitem(outbox._handlers, KIND, write_then_fail)
    item = committing(enqueue, {})

    assert list(OutboxItem.objects.values_list("pk", flat=True)) == [item.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_several_workers_and_clocks_carry_an_item_out_once(monkeypatch):
    """Each worker locks the item with SKIP LOCKED and is fenced by its attempts: one runs the
    handler, the others find it held or done. When the clock's sweep holds the item at the
    moment every worker looks, all of them skip it and the task the sweep queued runs it."""
    runs = []

    def slowly(payload):
        time.sleep(0.3)
        runs.append(payload)

    queued = []
    monkeypatch.setitem(outbox._handlers, KIND, slowly)
    monkeypatch.setattr(outbox, "async_task", lambda *args: queued.append(args[1:]))
    item = enqueue({"n": 1})
    queued.clear()  # the test is the worker: its three calls stand for the enqueue's task
    later = item.due_at + timedelta(seconds=1)
    worker = lambda: outbox.outbox_item_run(pk=item.pk, attempt=0)  # noqa: E731

    outcomes = all_succeed(worker, worker, worker, lambda: outbox.outbox_queue_due(now=later))
    swept = [outbox.outbox_item_run(pk=pk, attempt=attempt) for pk, attempt in queued]

    assert runs == [{"n": 1}]
    assert (outcomes[:3] + swept).count("done") == 1
    assert fresh(item).status == "done"


@pytest.mark.django_db
def test_the_admin_lists_failed_items_and_retries_them(
    client, super_admin, manager, handled, django_capture_on_commit_callbacks
):
    item = OutboxItem.objects.create(
        kind=KIND,
        payload={"n": 1},
        status="failed",
        attempts=outbox.MAX_ATTEMPTS,
        last_error="RuntimeError: chat is down",
        due_at=T0,
    )
    client.force_login(manager)
    assert client.get(ITEMS, secure=True).status_code == 403

    client.force_login(super_admin)
    page = client.get(ITEMS + "?status=failed", secure=True).content.decode()
    assert KIND in page and "RuntimeError: chat is down" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            ITEMS,
            {"action": "retry_now", "_selected_action": [item.pk]},
            follow=True,
            secure=True,
        )

    assert "Queued 1 item to be run again." in response.content.decode()
    assert handled == [{"n": 1}]
    assert fresh(item).status == "done"


@pytest.mark.django_db
def test_a_backlog_longer_than_the_lease_is_queued_once(handled, committing, queued, at):
    """Items whose task still waits in the worker's queue are not queued again by the clock."""
    items = [committing(enqueue, {"n": n}) for n in range(2)]
    waiting = queued_sends(outbox.RUN_TASK)
    assert waiting == sorted((item.pk, 0) for item in items)
    for lease in range(1, 4):
        at(lease * outbox.LEASE)
        assert committing(outbox.outbox_queue_due, now=T0 + lease * outbox.LEASE) == 0

    assert queued_sends(outbox.RUN_TASK) == waiting and handled == []


@pytest.mark.django_db
def test_done_items_are_kept_a_week_and_failed_ones_until_deleted():
    def item(status: str, age: timedelta) -> OutboxItem:
        done_at = T0 - age if status == "done" else None
        return OutboxItem.objects.create(kind=KIND, status=status, due_at=T0, done_at=done_at)

    item("done", timedelta(days=7, seconds=1))
    recent = item("done", timedelta(days=6, hours=23))
    failed = item("failed", timedelta(days=30))

    assert outbox.outbox_prune_done(now=T0) == 1
    assert set(OutboxItem.objects.values_list("pk", flat=True)) == {recent.pk, failed.pk}
