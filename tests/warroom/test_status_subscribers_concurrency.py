"""The job that emails the status page's subscribers, run twice and by four workers at once
(PostgreSQL): each subscriber gets exactly one email per update."""

import pytest
from django.core import mail

from itsm.models import Notification
from tests.concurrency import all_succeed
from tests.warroom.status_fixtures import post
from warroom import tasks
from warroom.models import StatusSubscriber

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
SUBSCRIBERS = 30


@pytest.fixture
def subscribers(db):
    return StatusSubscriber.objects.bulk_create(
        StatusSubscriber(email=f"s{n}@example.com", confirmed_at="2026-03-01T00:00Z")
        for n in range(SUBSCRIBERS)
    )


@pytest.fixture
def quiet_update(incident, manager, monkeypatch):
    """An update posted with its outbox item left unqueued, so that the test runs the job
    itself."""
    monkeypatch.setattr("itsm.outbox.async_task", lambda *args: None)
    update = post(incident, manager, "investigating", "Checkout is slow.")
    monkeypatch.undo()
    return update


def test_four_workers_and_a_rerun_send_each_subscriber_one_email(subscribers, quiet_update):
    job = lambda: tasks.notify_subscribers_of_status_update(quiet_update.pk)  # noqa: E731
    all_succeed(job, job, job, job)

    assert job() == 0  # a rerun writes nothing
    assert Notification.objects.count() == SUBSCRIBERS
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.email for s in subscribers)
