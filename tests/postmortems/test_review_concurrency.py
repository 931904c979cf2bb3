"""Workers and clocks drafting the same review at once (PostgreSQL): one review, one event;
and people accepting the same proposed action item at once: one item."""

import time
from datetime import date, timedelta

import pytest
from django.utils import timezone

from incidents import clock
from incidents.choices import ChangeSource, EventType
from itsm import outbox
from itsm.errors import ConflictError
from itsm.models import OutboxItem
from postmortems import action_items, drafting, receivers, services, tasks
from postmortems.models import ActionItem, PostIncidentReview
from tests.concurrency import all_at_once, all_succeed
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
    monkeypatch.setattr(outbox, "async_task", lambda *args: queued.append(args))
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    drive(incident, responder, "acknowledge", "start", "resolve")
    item = OutboxItem.objects.get(kind=receivers.ENSURE_REVIEW)
    assert item.payload == {"incident_id": incident.pk}
    assert (outbox.RUN_TASK, item.pk, 0) in queued  # after the commit
    later = timezone.now() + timedelta(seconds=10)  # past the sweep's grace

    all_succeed(
        *[lambda: tasks.ensure_review(incident.pk)] * WORKERS
        + [lambda: outbox.outbox_item_run(pk=item.pk, attempt=0)] * WORKERS
        + [lambda: clock.tick(now=later)] * CLOCKS
    )

    assert PostIncidentReview.objects.filter(incident=incident).count() == 1
    drafted = incident.events.filter(type=EventType.REVIEW, data__action="drafted")
    assert drafted.count() == 1


@pytest.fixture
def slow_item_saves(monkeypatch):
    """Saving an action item takes a while, so that the accepts surely overlap."""
    save = action_items._save

    def slowly(item, **kwargs):
        time.sleep(0.2)
        save(item, **kwargs)

    monkeypatch.setattr(action_items, "_save", slowly)


def test_two_accepts_of_one_proposal_create_one_item(drive, responder, slow_item_saves):
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    drive(incident, responder, "acknowledge", "start", "resolve")
    review = services.review_update(
        review=services.review_ensure_for(incident_id=incident.pk),
        actor=responder,
        source=ChangeSource.CLI,
        proposed_action_items=[{"text": "Alert on pool saturation"}],
    )

    def accept():
        return action_items.action_item_create(
            incident=incident,
            actor=responder,
            source=ChangeSource.API,
            title="Alert on pool saturation",
            owner=responder,
            due_date=date(2026, 4, 1),
        )

    outcomes = all_at_once(*[accept] * WORKERS)

    item = ActionItem.objects.get(incident=incident)
    assert [o.pk for o in outcomes if isinstance(o, ActionItem)] == [item.pk]
    assert sum(isinstance(o, ConflictError) for o in outcomes) == WORKERS - 1
    review.refresh_from_db()
    assert review.proposed_action_items == [
        {"text": "Alert on pool saturation", "source": "review", "accepted_item": item.pk}
    ]
