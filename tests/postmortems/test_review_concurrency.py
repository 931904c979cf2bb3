"""Workers and clocks drafting the same review at once (PostgreSQL): one review, one event."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import clock
from incidents.choices import EventType
from postmortems import drafting, receivers, tasks
from postmortems.models import PostIncidentReview
from tests.concurrency import all_succeed
from tests.factories import make_incident

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
WORKERS, CLOCKS = 4, 2


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

    all_succeed(
        *[lambda: tasks.ensure_review(incident.pk)] * WORKERS
        + [lambda: clock.tick(now=later)] * CLOCKS
    )

    assert PostIncidentReview.objects.filter(incident=incident).count() == 1
    drafted = incident.events.filter(type=EventType.REVIEW, data__action="drafted")
    assert drafted.count() == 1
