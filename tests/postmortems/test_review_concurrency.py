"""Workers and clocks drafting the same review at once (PostgreSQL): one review, one event."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from incidents import clock
from incidents.choices import EventType
from postmortems import drafting, receivers, tasks
from postmortems.models import PostIncidentReview
from tests.factories import make_incident

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
JOIN_TIMEOUT = 60
WORKERS, CLOCKS = 4, 2


def _all_at_once(calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            connection.ensure_connection()  # connecting first, so that the calls overlap
            barrier.wait(timeout=JOIN_TIMEOUT)
            call()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert not errors, errors


@pytest.fixture
def slow_drafts(monkeypatch):
    """Drafting takes a while, so that the callers surely overlap."""
    generate = drafting.generate

    def slowly(incident):
        time.sleep(0.2)
        return generate(incident)

    monkeypatch.setattr(drafting, "generate", slowly)


def test_several_workers_and_clocks_draft_one_review(drive, responder, slow_drafts, monkeypatch):
    queued = []
    monkeypatch.setattr(receivers, "async_task", lambda *args: queued.append(args))
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    drive(incident, responder, "acknowledge", "start", "resolve")
    assert queued == [("postmortems.tasks.ensure_review", incident.pk)]  # after the commit
    later = timezone.now() + timedelta(seconds=10)  # past the sweep's grace

    _all_at_once(
        [lambda: tasks.ensure_review(incident.pk)] * WORKERS
        + [lambda: clock.tick(now=later)] * CLOCKS
    )

    assert PostIncidentReview.objects.filter(incident=incident).count() == 1
    drafted = incident.events.filter(type=EventType.REVIEW, data__action="drafted")
    assert drafted.count() == 1
