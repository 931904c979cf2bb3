"""The review API: an incident's review read, started, edited and moved through its states;
the list with its filters; stakeholders read published reviews only; bad input 400 and nothing
written; an illegal transition 409."""

import pytest

from postmortems import tasks
from postmortems.choices import ReviewStatus
from postmortems.models import SECTIONS, IncidentRollup, PostIncidentReview
from tests.conftest import api_error

S = ReviewStatus


def url(incident, transition: str = "") -> str:
    return f"/api/incidents/{incident.number}/postmortem/" + (
        f"{transition}/" if transition else ""
    )


@pytest.fixture
def drafted(resolve):
    """A resolved P1 and its drafted, required review."""
    incident = resolve("P1")
    tasks.ensure_review(incident.pk)
    return incident


def test_the_drafted_review_reads_with_its_generated_parts(api, responder, drafted):
    body = api.as_user(responder).get(url(drafted)).json()

    assert (body["number"], body["status"], body["required"]) == (drafted.number, "draft", True)
    assert body["owner"]["username"] == responder.username
    assert body["facts"]["number"] == drafted.number
    assert [row["event"] for row in body["timeline"]]
    assert body["overdue"] is False


def test_a_review_goes_from_draft_to_published(api, responder, manager, drafted):
    rita = api.as_user(responder)
    edited = rita.patch(
        url(drafted),
        {"root_cause": "The pool was exhausted.", "owner": manager.username},
        format="json",
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["root_cause"] == "The pool was exhausted."
    assert edited.json()["owner"]["username"] == manager.username

    assert rita.post(url(drafted, "submit")).json()["status"] == "in_review"
    api_error(rita.post(url(drafted, "publish")), 403, "permission_denied")
    returned = rita.post(url(drafted, "return"), {"reason": "Add the timeline"}, format="json")
    assert returned.json()["status"] == "draft"
    rita.post(url(drafted, "submit"))

    published = api.as_user(manager).post(url(drafted, "publish"))

    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert PostIncidentReview.objects.get(incident=drafted).status == S.PUBLISHED


def test_an_illegal_transition_is_409_and_changes_nothing(api, responder, drafted):
    response = api.as_user(responder).post(url(drafted, "skip"), {"reason": "x"}, format="json")

    api_error(response, 409, "invalid_transition")
    assert PostIncidentReview.objects.get(incident=drafted).status == S.DRAFT


def test_bad_input_is_400_naming_the_field_and_writes_nothing(api, responder, drafted):
    rita = api.as_user(responder)
    response = rita.patch(
        url(drafted), {"summary": "New", "owner": "nobody-here", "colour": "red"}, format="json"
    )

    fields = api_error(response, 400, "invalid")
    assert {"owner", "colour"} <= set(fields)
    assert PostIncidentReview.objects.get(incident=drafted).summary != "New"
    assert "reason" in api_error(
        rita.post(url(drafted, "return"), {}, format="json"), 400, "invalid"
    )


def test_an_optional_review_is_started_on_request_then_skipped(api, responder, resolve):
    incident = resolve("P3")
    rita = api.as_user(responder)
    api_error(rita.get(url(incident)), 404, "not_found")

    started = rita.post(url(incident))
    assert started.status_code == 201
    assert (started.json()["status"], started.json()["required"]) == ("draft", False)
    api_error(rita.post(url(incident)), 409, "conflict")

    skipped = rita.post(url(incident, "skip"), {"reason": "Known issue"}, format="json")
    assert skipped.json()["status"] == "skipped"


def test_stakeholders_read_published_reviews_only_and_write_nothing(
    api, responder, manager, stakeholder, drafted
):
    stella = api.as_user(stakeholder)
    api_error(stella.get(url(drafted)), 404, "not_found")
    assert stella.get("/api/postmortems/").json()["count"] == 0
    api_error(stella.patch(url(drafted), {"summary": "x"}, format="json"), 403, "permission_denied")
    api_error(stella.post(url(drafted, "submit")), 403, "permission_denied")

    api.as_user(responder).post(url(drafted, "submit"))
    api.as_user(manager).post(url(drafted, "publish"))

    assert stella.get(url(drafted)).json()["status"] == "published"
    assert stella.get("/api/postmortems/").json()["count"] == 1


def test_the_list_filters_by_status_owner_priority_and_overdue(
    api, responder, manager, drafted, traveller
):
    rita = api.as_user(responder)

    def numbers(**query):
        return [row["number"] for row in rita.get("/api/postmortems/", query).json()["results"]]

    assert numbers() == [drafted.number]
    assert numbers(status="draft", owner="me", priority="P1") == [drafted.number]
    assert numbers(owner=manager.username) == []
    assert numbers(overdue="true") == []
    traveller.shift(49 * 3600)
    assert numbers(overdue="true") == [drafted.number]
    assert rita.get(url(drafted)).json()["overdue"] is True


def test_an_edit_of_every_section_at_once_is_saved_and_its_history_reason_fits(
    api, responder, drafted
):
    """The change reason naming nine sections is longer than its history column: it is cut,
    not a failed write."""
    body = {name: f"New {name}." for name in SECTIONS}

    response = api.as_user(responder).patch(url(drafted), body, format="json")

    assert response.status_code == 200
    review = PostIncidentReview.objects.get(incident=drafted)
    assert review.lessons_learned == "New lessons_learned."
    reason = review.history.first().history_change_reason
    assert reason.startswith("edited ") and reason.endswith("…") and len(reason) == 100


def test_the_revenue_estimate_is_set_refused_when_negative_and_cleared(api, responder, drafted):
    rita = api.as_user(responder)

    set_ = rita.patch(url(drafted), {"revenue_impact": "12500.50"}, format="json")
    assert set_.status_code == 200 and set_.json()["revenue_impact"] == "12500.50"
    assert IncidentRollup.objects.get(pk=drafted.pk).revenue_impact == 12500.5
    negative = rita.patch(url(drafted), {"revenue_impact": "-1"}, format="json")
    assert "revenue_impact" in api_error(negative, 400, "invalid")
    assert str(PostIncidentReview.objects.get(incident=drafted).revenue_impact) == "12500.50"
    cleared = rita.patch(url(drafted), {"revenue_impact": None}, format="json")
    assert cleared.json()["revenue_impact"] is None
