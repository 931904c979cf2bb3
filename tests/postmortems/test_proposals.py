"""Accepting a proposed action item: a POST to /api/action-items/ with its text as the title
creates the item and marks the proposal accepted, once; the review shows the mark, and an edit
of the proposals keeps it."""

import pytest

from incidents.choices import EventType
from postmortems import services, tasks
from postmortems.models import ActionItem
from tests.conftest import api_error
from tests.postmortems.reviews import CLI

ITEMS = "/api/action-items/"
PROPOSED = [
    {"text": "Alert on pool saturation", "source": "scratchpad"},
    {"text": "Document the failover", "source": "scratchpad"},
]


@pytest.fixture
def review(resolve, responder):
    """A resolved P1's review proposing two action items."""
    incident = resolve("P1")
    tasks.ensure_review(incident.pk)
    return services.review_update(
        review=incident.review, actor=responder, source=CLI, proposed_action_items=PROPOSED
    )


def review_url(review) -> str:
    return f"/api/incidents/{review.incident.number}/postmortem/"


def accept(client, review, title: str):
    body = {
        "incident": review.incident.number,
        "title": title,
        "owner": "rita",
        "due_date": "2026-04-01",
        "priority": "P0",
        "type": "detect",
    }
    return client.post(ITEMS, body, format="json")


def test_posting_a_proposals_text_creates_the_item_and_marks_it_accepted(api, responder, review):
    rita = api.as_user(responder)

    created = accept(rita, review, "Alert on pool saturation")

    assert created.status_code == 201, created.content
    item = ActionItem.objects.get()
    assert (created.json()["id"], item.priority, item.type) == (item.pk, "P0", "detect")
    shown = rita.get(review_url(review)).json()["proposed_action_items"]
    assert shown == [
        {**PROPOSED[0], "accepted_item": item.pk},
        {**PROPOSED[1], "accepted_item": None},
    ]
    event = review.incident.events.get(type=EventType.ACTION_ITEM)
    assert event.summary == (
        "Action item added for rita (due 2026-04-01) (a proposal of the review): "
        "Alert on pool saturation"
    )
    assert event.data["proposal"] == 0
    history = review.history.latest()
    assert history.history_change_reason == "Accepted proposed action item 1 by rita (api)"


def test_accepting_a_proposal_again_is_a_conflict_and_creates_nothing(api, responder, review):
    rita = api.as_user(responder)
    first = accept(rita, review, "Alert on pool saturation").json()["id"]

    again = accept(rita, review, "Alert on pool saturation")

    api_error(again, 409, "conflict")
    assert f"action item {first}" in again.json()["error"]["message"]
    assert list(ActionItem.objects.values_list("pk", flat=True)) == [first]


def test_another_title_is_an_item_of_its_own_and_accepts_nothing(api, responder, review):
    rita = api.as_user(responder)

    assert accept(rita, review, "Alert on pool saturation soon").status_code == 201

    shown = rita.get(review_url(review)).json()["proposed_action_items"]
    assert [row["accepted_item"] for row in shown] == [None, None]


def test_editing_the_proposals_keeps_the_accepted_mark(api, responder, review):
    rita = api.as_user(responder)
    item = accept(rita, review, "Document the failover").json()["id"]
    reordered = [PROPOSED[1], {"text": "Rehearse the failover", "source": "review"}]

    edited = rita.patch(review_url(review), {"proposed_action_items": reordered}, format="json")

    assert edited.status_code == 200, edited.content
    assert edited.json()["proposed_action_items"] == [
        {**PROPOSED[1], "accepted_item": item},
        {"text": "Rehearse the failover", "source": "review", "accepted_item": None},
    ]
    api_error(accept(rita, review, "Document the failover"), 409, "conflict")


def test_an_edit_cannot_set_the_accepted_mark(api, responder, review):
    rows = [{**PROPOSED[0], "accepted_item": 99}]

    response = api.as_user(responder).patch(
        review_url(review), {"proposed_action_items": rows}, format="json"
    )

    assert "proposed_action_items" in api_error(response, 400, "invalid")
    review.refresh_from_db()
    assert review.proposed_action_items == PROPOSED
