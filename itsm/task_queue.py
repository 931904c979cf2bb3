"""django-q2's queue: the broker that takes urgent tasks first, what is waiting in it, for the
clock's sweeps (a row whose task is still queued is not queued again, however long the
backlog; docs/operations.md), and the pruning of old results."""

from datetime import timedelta
from time import sleep

from django.conf import settings
from django.db.models import Case, Value, When
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ, Success

URGENT_SUFFIX = ":urgent"


def urgent_queue() -> str:
    """The `cluster` option that queues a task as urgent (`async_task(..., cluster=...)`)."""
    return Conf.CLUSTER_NAME + URGENT_SUFFIX


class UrgentFirstORM(ORM):
    """django-q2's ORM broker (Q_CLUSTER's `broker_class`), except that it takes the oldest
    urgent task first (the clock's firings), then the oldest other one. The stock broker takes
    a waiting task in no particular order, so a breach could wait behind a backlog of
    notification sends, and a task could wait behind ones queued after it."""

    def keys(self) -> list[str]:
        """The queue's keys, the urgent one first."""
        if self.list_key.endswith(URGENT_SUFFIX):
            return [self.list_key]
        return [self.list_key + URGENT_SUFFIX, self.list_key]

    def dequeue(self):
        """Lock (for Q_CLUSTER's `retry` seconds) and return up to `bulk` waiting tasks, urgent
        ones first, oldest first; one another cluster locked first is left to it."""
        queue = self.get_connection()
        keys = self.keys()
        urgent_first = Case(When(key=keys[0], then=Value(0)), default=Value(1))
        waiting = queue.filter(key__in=keys, lock__lt=timezone.now()).order_by(urgent_first, "id")
        oldest = list(waiting[: Conf.BULK])
        if not oldest:
            sleep(Conf.POLL)  # an empty queue: spare the CPU, as the stock broker does
        return [
            (task.pk, task.payload)
            for task in oldest
            if queue.filter(id=task.id, lock=task.lock).update(lock=self.timeout(task))
        ]

    def queue_size(self) -> int:
        return self.get_connection().filter(key__in=self.keys(), lock__lte=timezone.now()).count()

    def lock_size(self) -> int:
        return self.get_connection().filter(key__in=self.keys(), lock__gt=timezone.now()).count()

    def purge_queue(self):
        return self.get_connection().filter(key__in=self.keys()).delete()


def queued_task_args(func: str) -> set[tuple] | None:
    """The arguments of every `func` task in the ORM broker's queue, urgent or not: waiting,
    or taken by a worker and not yet done (a task taken by a worker that died comes back after
    Q_CLUSTER's `retry`). None when the broker is another (Redis), whose queue cannot be
    read."""
    broker = get_broker()
    if not isinstance(broker, ORM):
        return None
    keys = broker.keys() if isinstance(broker, UrgentFirstORM) else [broker.list_key]
    return _args_of(func, OrmQ.objects.using(Conf.ORM).filter(key__in=keys))


def waiting_urgent_task_args(func: str) -> set[tuple]:
    """The arguments of the `func` tasks waiting in the urgent queue, not yet taken by a worker
    (one that takes a task locks it until Q_CLUSTER's `retry` from then). Only the urgent
    queue is read: a backlog of other tasks costs nothing here."""
    packages = OrmQ.objects.using(Conf.ORM).filter(key=urgent_queue(), lock__lte=timezone.now())
    return _args_of(func, packages)


def _args_of(func: str, packages) -> set[tuple]:
    tasks = (package.task for package in packages.only("payload").iterator())
    return {tuple(task["args"]) for task in tasks if task.get("func") == func}


def not_queued(func: str, rows: list) -> list:
    """The rows (each with `pk` and `attempts`, a task's arguments) whose `func` task is not
    in the worker's queue: those a sweep queues again. All of them when the queue cannot be
    read (the task's `attempts` fence then makes an older copy do nothing)."""
    if not rows:
        return []
    queued = queued_task_args(func) or set()
    return [row for row in rows if (row.pk, row.attempts) not in queued]


def task_results_prune(*, now) -> int:
    """Delete the results of tasks that succeeded more than TASK_RESULTS_DAYS before `now` (the
    clock's, hourly); return how many. Failed tasks' results stay until an admin deletes them."""
    kept_from = now - timedelta(days=settings.TASK_RESULTS_DAYS)
    deleted, _ = Success.objects.filter(stopped__lt=kept_from).delete()
    return deleted
