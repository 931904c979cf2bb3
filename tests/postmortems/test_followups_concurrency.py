"""Workers running the review job of major incidents at once (PostgreSQL): each role holder's
checklist once, one meeting and one invitation each; two meetings of one owner proposed at
once take different slots."""

import time
from datetime import UTC, datetime

import pytest

from itsm.choices import NotificationChannel
from itsm.models import Notification
from postmortems import meeting, tasks
from postmortems.models import FollowUp, ReviewMeeting
from tests.concurrency import all_succeed
from tests.postmortems.reviews import at

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
WORKERS = 4


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """The outbox items a resolution records, held back (the worker runs them synchronously in
    tests) for the test to run at once."""
    jobs = []
    monkeypatch.setattr("itsm.outbox.async_task", lambda *args: jobs.append(args))
    return jobs


def test_several_workers_assign_the_follow_ups_and_propose_the_meeting_once(fight_major):
    incident = fight_major(at(hours=1))
    assert not ReviewMeeting.objects.exists()

    all_succeed(*[lambda: tasks.ensure_review(incident.pk)] * WORKERS)

    assert FollowUp.objects.filter(review__incident=incident).count() == 11
    proposed = ReviewMeeting.objects.get(review__incident=incident)
    emails = Notification.objects.filter(
        channel=NotificationChannel.EMAIL, context__meeting=proposed.pk
    )
    assert emails.count() == 6


@pytest.fixture
def slow_slots(monkeypatch):
    """Choosing a slot takes a while, so that the two jobs surely overlap there."""
    choose = meeting.next_free_slot

    def slowly(**kwargs):
        time.sleep(0.3)
        return choose(**kwargs)

    monkeypatch.setattr(meeting, "next_free_slot", slowly)


def test_two_meetings_of_one_owner_proposed_at_once_take_different_slots(fight_major, slow_slots):
    first = fight_major(at(hours=1))
    second = fight_major(at(hours=1), title="Search is slow")
    assert not ReviewMeeting.objects.exists()

    all_succeed(lambda: tasks.ensure_review(first.pk), lambda: tasks.ensure_review(second.pk))

    starts = sorted(ReviewMeeting.objects.values_list("starts_at", flat=True))
    assert starts == [datetime(2026, 3, 4, 11, tzinfo=UTC), datetime(2026, 3, 4, 12, tzinfo=UTC)]
