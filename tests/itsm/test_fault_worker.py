"""The worker under faults.

kill -9 of the worker in the middle of sending an email: the mail server has the message,
the worker never heard it was taken. The clock of a new worker queues the notification again
when its lease runs out (seconds, not minutes), that worker sends it again, and the
recipient's mail client shows one message: both copies carry the same Message-ID.

The PostgreSQL and Redis are the test's own (tests/faults.py), holding a copy of the migrated
test database; the workers (`manage.py qworker`, each with its clock) are real processes with
the production settings, sending through a mail server in the test
(tests/smtp.py) that takes the first message and then does not answer.

SIGTERM while tasks run: the worker stops within 10 s, and the tasks it had not finished are
still in the queue, for the next worker."""

import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest
from django.conf import settings

from tests.browser import _test_database_url, free_port
from tests.concurrency import eventually
from tests.faults import (
    PRIVATE_SERVERS_MARKS,
    manage,
    private_servers,
)
from tests.smtp import MailServer

pytestmark = PRIVATE_SERVERS_MARKS

LEASE = 10  # seconds (NOTIFICATION_LEASE); production's is 45
EMAIL_TIMEOUT = 5  # the worker is killed long before its send would time out
SLACK = 15  # seconds a loaded machine may add: starting the new worker, the clock's tick
STOP_LIMIT = 10  # seconds SIGTERM may take to stop a worker
DEDUPE_KEY = "fault:worker-killed"
BASE_URL = "https://itsm.example.test"
NOTIFY = f"""
from django.contrib.auth import get_user_model
from django.db import transaction
from itsm.notifications import notify
with transaction.atomic():
    user = get_user_model().objects.create_user("fault-recipient", email="oncall@example.test")
    [row] = notify(recipients=[user], channels=["email"], subject="P1: checkout down",
                   body="Checkout returns 500.", dedupe_key="{DEDUPE_KEY}")
print(row.pk)
"""
SLOW_TASKS = """
from django_q.tasks import async_task
for _ in range(4):
    async_task("time.sleep", 60)
"""
# the sleeps only: the worker's clock queues its own work (the hourly pruning) beside them
QUEUED = "from django_q.models import OrmQ; "
QUEUED += "print(sum(q.func() == 'time.sleep' for q in OrmQ.objects.all()))"
SHOW = "from itsm.models import Notification; n = Notification.objects.get(pk={pk}); "
SHOW += "print(n.status, n.attempts)"


def start(env: dict, *arguments: str, log) -> subprocess.Popen:
    """A manage.py process leading a process group of its own, so that kill -9 takes the
    whole worker (its sentinel and worker processes) as a crash of its machine would."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *arguments],
        cwd=settings.BASE_DIR,
        env=os.environ | env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def seconds_to_stop(process: subprocess.Popen) -> float:
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    return time.monotonic() - began


@pytest.fixture
def servers():
    with private_servers(_test_database_url(), range(19500, 19600), range(19600, 19700)) as both:
        yield both


def production_env(postgres, redis, **more) -> dict:
    """The production settings (the ORM broker, no inline tasks) on the test's own servers."""
    return {
        "DJANGO_SETTINGS_MODULE": "itsm.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url,
        **more,
    }


def test_an_email_resent_after_its_worker_was_killed_is_one_message(servers, tmp_path):
    with ExitStack() as stack:
        mail = stack.enter_context(MailServer(free_port(range(19700, 19800)), stall_first=True))
        env = production_env(
            *servers,
            EMAIL_URL=f"smtp://127.0.0.1:{mail.server_address[1]}",
            EMAIL_TIMEOUT=str(EMAIL_TIMEOUT),
            NOTIFICATION_LEASE=str(LEASE),
            PORTAL_BASE_URL=BASE_URL,
        )
        log = stack.enter_context(open(tmp_path / "processes.log", "wb"))
        processes = []
        stack.callback(lambda: [kill_group(process) for process in processes])
        processes.append(first_worker := start(env, "qworker", log=log))

        pk = int(manage(env, "shell", "-c", NOTIFY).split()[-1])
        assert mail.stalled.wait(60), "the worker never sent the email"
        kill_group(first_worker)  # mid-send: the server has the message, the worker no answer
        killed_at = time.monotonic()
        mail.release.set()
        processes.append(second_worker := start(env, "qworker", log=log))

        resent = eventually(lambda: len(mail.message_ids()) >= 2, LEASE + SLACK + 30)
        waited = time.monotonic() - killed_at
        assert resent, f"not sent again within {LEASE + SLACK + 30} s of the kill"
        assert manage(env, "shell", "-c", SHOW.format(pk=pk)).split()[-2:] == ["sent", "2"]
        stopped_in = seconds_to_stop(second_worker)

    first, again = mail.message_ids()
    assert first == again  # one message in the recipient's mail client
    assert first.startswith("<") and first.endswith("@itsm.example.test>")
    assert waited <= LEASE + SLACK, f"sent again {waited:.1f} s after the kill"
    assert stopped_in <= STOP_LIMIT, f"SIGTERM took {stopped_in:.1f} s to stop the worker"
    print(f"resent {waited:.1f} s after the kill; SIGTERM stopped the worker in {stopped_in:.1f} s")


def test_sigterm_stops_a_busy_worker_within_seconds_and_hands_its_tasks_back(servers, tmp_path):
    env = production_env(*servers)
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = start(env, "qworker", log=log)
        try:
            manage(env, "shell", "-c", SLOW_TASKS)
            assert eventually(lambda: b"processing" in log_path.read_bytes(), 60), "no task ran"
            stopped_in = seconds_to_stop(worker)
        finally:
            kill_group(worker)

    assert stopped_in <= STOP_LIMIT, f"SIGTERM took {stopped_in:.1f} s to stop the worker"
    assert manage(env, "shell", "-c", QUEUED).split()[-1] == "4"  # none lost, none done
    print(f"SIGTERM stopped a busy worker in {stopped_in:.1f} s")
