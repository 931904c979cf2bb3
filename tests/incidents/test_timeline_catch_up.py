"""A page catching up sends the newest event id it holds (`since`). Ids are taken when an
event is written, not when it commits: with two writers, an event written first can commit
(and be published) after a later one the page already shows. The catch-up therefore sends the
events after `since` and the RESENT_BEFORE_SINCE before it; the page skips those it shows."""

import pytest

from incidents.choices import EventType
from incidents.models import IncidentEvent
from incidents.timeline import RESENT_BEFORE_SINCE, events_since
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def note(incident, text):
    return IncidentEvent.objects.create(
        incident=incident, type=EventType.NOTE, source="api", summary=text
    )


def test_an_event_committed_after_the_newest_a_page_holds_is_sent_again(responder):
    incident = make_incident(actor=responder)
    late, newest = note(incident, "written first, committed last"), note(incident, "newest")
    after = note(incident, "after")
    events = IncidentEvent.objects.filter(incident=incident)

    caught_up = list(events_since(events, newest.pk).order_by("pk"))

    assert caught_up[-2:] == [late, after]
    assert newest not in caught_up  # the page named it: it holds it


def test_the_events_sent_again_are_bounded(responder):
    incident = make_incident(actor=responder)
    written = [note(incident, f"note {n}") for n in range(RESENT_BEFORE_SINCE + 10)]
    events = IncidentEvent.objects.filter(incident=incident)

    caught_up = list(events_since(events, written[-1].pk).order_by("pk"))

    assert caught_up == written[-RESENT_BEFORE_SINCE - 1 : -1]
