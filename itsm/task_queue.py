"""What is waiting in django-q2's queue, for the clock's sweeps: a row whose task is still
queued is not queued again, however long the backlog (docs/operations.md)."""

from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ


def queued_task_args(func: str) -> set[tuple] | None:
    """The arguments of every `func` task in the ORM broker's queue: waiting, or taken by a
    worker and not yet done (a task taken by a worker that died comes back after Q_CLUSTER's
    `retry`). None when the broker is another (Redis), whose queue cannot be read."""
    broker = get_broker()
    if not isinstance(broker, ORM):
        return None
    packages = OrmQ.objects.using(Conf.ORM).filter(key=broker.list_key)
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
