"""An incident page's timeline grows without the page growing: the page shows the latest events
(incidents.selectors.TIMELINE_PAGE_SIZE) and a link to the older ones, a page at a time, as a
fragment for the page's script or as a full page (`?before=`) without it. Its history shows the
latest changes only, likewise."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.choices import ChangeSource, EventType
from incidents.consumers import snapshot
from incidents.models import IncidentEvent
from incidents.oncall.paging import incident_add_responders
from incidents.selectors import HISTORY_SHOWN, TIMELINE_PAGE_SIZE
from incidents.timeline import RESENT_BEFORE_SINCE
from tests.factories import make_incident

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 9, tzinfo=UTC)
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="\w+"')
EVENT_ID = re.compile(r'class="event event-\w+" data-id="(\d+)"')


def add_notes(incident, actor, count: int, *, public=lambda n: False, ending=None):
    """`count` notes a second apart, the last at `ending` (now), oldest first (written directly:
    hundreds through the services would only slow the tests)."""
    ending = ending or timezone.now()
    return IncidentEvent.objects.bulk_create(
        IncidentEvent(
            incident=incident,
            type=EventType.NOTE,
            actor=actor,
            source=ChangeSource.CLI,
            at=ending - timedelta(seconds=count - 1 - n),
            summary=f"note {n}",
            data={"text": f"note {n}"},
            public=public(n),
        )
        for n in range(count)
    )


def page_url(incident) -> str:
    return reverse("incidents:detail", args=[incident.number])


def older_url(incident) -> str:
    return reverse("incidents:timeline", args=[incident.number])


def shown_ids(html: str) -> list[int]:
    return [int(id) for id in EVENT_ID.findall(html)]


def without_ids(html: str) -> str:
    """The page with what differs from one incident to the next (event ids, the incident's
    number, the CSRF token) blanked: what is left is its shape."""
    return re.sub(r"\d+", "0", CSRF_TOKEN.sub("", html))


def test_the_page_costs_the_same_for_60_and_600_events(signed_in, responder, service, time_machine):
    """Same queries, same size (to the byte, numbers aside), whatever the timeline's length."""
    time_machine.move_to(START, tick=False)
    client = signed_in(responder)
    pages = []
    for count in (60, 600):
        incident = make_incident(actor=responder, services=[service.slug])
        add_notes(incident, responder, count)
        client.get(page_url(incident))  # the session and permission caches warm
        with CaptureQueriesContext(connection) as queries:
            html = client.get(page_url(incident)).content.decode()
        assert len(shown_ids(html)) == TIMELINE_PAGE_SIZE
        pages.append((len(queries), len(without_ids(html))))

    assert pages[0] == pages[1]


@pytest.fixture
def long_incident(responder, incident):
    """An incident with 120 notes after its creation: 121 events or more."""
    add_notes(incident, responder, 120)
    return incident


def test_the_page_shows_the_latest_events_and_links_to_the_older(
    signed_in, responder, long_incident
):
    ids = list(long_incident.events.order_by("-at", "-id").values_list("pk", flat=True))

    html = signed_in(responder).get(page_url(long_incident)).content.decode()

    assert shown_ids(html) == ids[:TIMELINE_PAGE_SIZE]
    oldest = ids[TIMELINE_PAGE_SIZE - 1]
    assert f'href="{page_url(long_incident)}?before={oldest}#timeline-title"' in html
    assert f'data-fragment="{older_url(long_incident)}?before={oldest}"' in html
    assert 'data-live-part="timeline"' in html


def test_the_older_fragment_answers_the_next_page_and_its_link(
    signed_in, responder, long_incident, django_assert_num_queries
):
    ids = list(long_incident.events.order_by("-at", "-id").values_list("pk", flat=True))
    client = signed_in(responder)
    client.get(older_url(long_incident))

    # session, user, permissions (user + group), roles; the incident; the events with actors.
    with django_assert_num_queries(5 + 1 + 1):
        response = client.get(older_url(long_incident), {"before": ids[TIMELINE_PAGE_SIZE - 1]})

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.startswith('<ol data-live-part="older-events">')
    assert shown_ids(html) == ids[TIMELINE_PAGE_SIZE : 2 * TIMELINE_PAGE_SIZE]
    assert f"?before={ids[2 * TIMELINE_PAGE_SIZE - 1]}" in html

    last = client.get(older_url(long_incident), {"before": ids[2 * TIMELINE_PAGE_SIZE - 1]})
    last_html = last.content.decode()
    assert shown_ids(last_html) == ids[2 * TIMELINE_PAGE_SIZE :]
    assert "Show older events" not in last_html  # nothing older: no link


def test_without_the_script_the_link_is_a_page_of_older_events(signed_in, responder, long_incident):
    ids = list(long_incident.events.order_by("-at", "-id").values_list("pk", flat=True))

    response = signed_in(responder).get(
        page_url(long_incident), {"before": ids[TIMELINE_PAGE_SIZE - 1]}
    )

    html = response.content.decode()
    assert shown_ids(html) == ids[TIMELINE_PAGE_SIZE : 2 * TIMELINE_PAGE_SIZE]
    assert "Back to the newest events" in html
    assert 'data-live-part="timeline"' not in html  # older events are not kept live
    assert f"?before={ids[2 * TIMELINE_PAGE_SIZE - 1]}" in html


def test_events_at_the_same_moment_are_paged_by_id_without_a_gap_or_a_repeat(
    signed_in, responder, incident
):
    same = incident.events.get().at
    IncidentEvent.objects.bulk_create(
        IncidentEvent(
            incident=incident, type=EventType.NOTE, source=ChangeSource.CLI, at=same, summary="x"
        )
        for _ in range(TIMELINE_PAGE_SIZE + 5)
    )
    client = signed_in(responder)

    first = shown_ids(client.get(page_url(incident)).content.decode())
    rest = shown_ids(client.get(older_url(incident), {"before": first[-1]}).content.decode())

    assert first + rest == sorted(incident.events.values_list("pk", flat=True), reverse=True)


def test_a_stakeholder_pages_through_the_public_events_only(signed_in, stakeholder, incident):
    notes = add_notes(incident, None, 3 * TIMELINE_PAGE_SIZE, public=lambda n: n % 2 == 0)
    public = [note.pk for note in reversed(notes) if note.public]
    client = signed_in(stakeholder)

    first = shown_ids(client.get(page_url(incident)).content.decode())
    rest = shown_ids(client.get(older_url(incident), {"before": first[-1]}).content.decode())
    hidden = next(note.pk for note in notes if not note.public)

    assert first + rest == public
    assert shown_ids(client.get(older_url(incident), {"before": hidden}).content.decode()) == []


def test_responders_added_long_ago_are_still_listed(signed_in, responder, manager, incident):
    incident_add_responders(
        incident=incident, actor=responder, source=ChangeSource.CLI, users=[manager]
    )
    later = timezone.now() + timedelta(minutes=5)
    add_notes(incident, responder, TIMELINE_PAGE_SIZE + 1, ending=later)

    html = signed_in(responder).get(page_url(incident)).content.decode()

    assert '<span class="person" title="mona">' in html


def test_who_may_fetch_older_events(client, signed_in, nobody, incident):
    url = older_url(incident)

    assert client.get(url).url.startswith(reverse("login"))
    assert signed_in(nobody).get(url).status_code == 403
    assert client.post(url).status_code in (403, 405)


@pytest.mark.parametrize("before", ["abc", "-1", "99999999999999999999"])
def test_a_bad_before_answers_400(signed_in, responder, incident, before):
    client = signed_in(responder)

    assert client.get(older_url(incident), {"before": before}).status_code == 400
    assert client.get(page_url(incident), {"before": before}).status_code == 400


def test_an_unknown_incident_has_no_older_events(signed_in, responder):
    url = reverse("incidents:timeline", args=["INC9999999"])

    assert signed_in(responder).get(url).status_code == 404


# --- the socket's catch-up -----------------------------------------------------------------------


def test_a_snapshot_carries_what_was_missed_and_no_more(responder, long_incident):
    """However long the timeline, a (re)connecting page is sent the events after the newest it
    knows and the few before it that may have committed after it (RESENT_BEFORE_SINCE), never
    the timeline it shows."""
    ids = list(long_incident.events.order_by("pk").values_list("pk", flat=True))

    caught_up = snapshot(incident_id=long_incident.pk, internal=True, since=ids[-1], rendered=None)
    behind = snapshot(incident_id=long_incident.pk, internal=True, since=ids[-4], rendered=None)
    rendered = int(timezone.now().timestamp()) + 1
    first = snapshot(incident_id=long_incident.pk, internal=True, since=None, rendered=rendered)

    def sent(answer):
        return [event["event"]["id"] for event in answer["events"]]

    assert sent(caught_up) == ids[-1 - RESENT_BEFORE_SINCE : -1]
    assert caught_up["last_event"] == ids[-1]
    assert first["events"] == [] and first["complete"]  # rendered after them all
    assert sent(behind) == ids[-4 - RESENT_BEFORE_SINCE : -4] + ids[-3:]
    assert len(ids) > 3 * RESENT_BEFORE_SINCE  # a fraction of the timeline


def test_the_page_shows_the_latest_changes_of_a_long_history(signed_in, responder, incident):
    for n in range(HISTORY_SHOWN + 1):
        incident = services.incident_update(
            incident=incident, actor=responder, source=ChangeSource.CLI, title=f"Title {n}"
        )

    html = signed_in(responder).get(page_url(incident)).content.decode()

    assert html.count("<del>") == HISTORY_SHOWN  # each shown change with its diff
    assert f"the latest {HISTORY_SHOWN} changes" in html
    assert f"<ins>Title {HISTORY_SHOWN}</ins>" in html  # the newest
    assert "<ins>Title 1</ins>" in html and "<ins>Title 0</ins>" not in html  # not the oldest
    assert f"/api/incidents/{incident.number}/history/" in html
