"""Reviews and the review policy in the Django admin: edits go through the services; the state
and the generated parts are read-only."""

from datetime import timedelta

import pytest
from django.urls import reverse

from incidents.choices import EventType
from postmortems import services
from postmortems.choices import PolicyScope
from postmortems.models import PostIncidentReview, ReviewPolicy
from tests.factories import make_incident
from tests.incidents.test_admin import form_data

CHANGELIST = reverse("admin:postmortems_postincidentreview_changelist")
POLICIES = reverse("admin:postmortems_reviewpolicy_changelist")


def change_url(review):
    return reverse("admin:postmortems_postincidentreview_change", args=[review.pk])


@pytest.fixture
def review(responder, drive):
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    drive(incident, responder, "acknowledge", "start", "resolve")
    return services.review_ensure_for(incident_id=incident.pk)


@pytest.fixture
def as_manager(signed_in, manager):
    return signed_in(manager)


def test_the_list_and_the_review_open(as_manager, review):
    assert review.incident.number in as_manager.get(CHANGELIST).content.decode()
    page = as_manager.get(change_url(review)).content.decode()
    assert "Generated from the record" in page
    assert "Resolved" in page  # the generated timeline, shown read-only


def test_editing_a_section_goes_through_the_service(as_manager, review):
    data = form_data(as_manager.get(change_url(review)))
    data["root_cause"] = "A config push without a canary"
    data["status"] = "published"  # read-only: ignored

    response = as_manager.post(change_url(review), data)

    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.root_cause, review.status) == ("A config push without a canary", "draft")
    assert review.history.first().history_change_reason == "edited root_cause by mona (admin)"
    last = review.incident.events.filter(type=EventType.REVIEW).last()
    assert last.summary == "Post-incident review edited: root_cause"


def test_the_generated_parts_and_state_are_read_only(as_manager, review):
    form = as_manager.get(change_url(review)).context["adminform"].form
    assert not {"status", "facts", "timeline", "proposed_action_items", "due_at"} & set(form.fields)
    assert {"owner", "summary", "impact", "lessons_learned", "public_summary"} <= set(form.fields)


def test_a_manager_edits_the_policy(as_manager):
    policy = ReviewPolicy.objects.get(scope=PolicyScope.P3)
    url = reverse("admin:postmortems_reviewpolicy_change", args=[policy.pk])
    data = form_data(as_manager.get(url))
    data.update(required="on", due_after="3 00:00:00")

    assert as_manager.post(url, data).status_code == 302

    policy.refresh_from_db()
    assert (policy.required, policy.due_after) == (True, timedelta(days=3))
    assert PolicyScope.P3 in as_manager.get(POLICIES).content.decode()


def test_responders_and_stakeholders_do_not_open_the_admin(
    signed_in, responder, stakeholder, review
):
    for user in (responder, stakeholder):
        response = signed_in(user).get(change_url(review))
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert PostIncidentReview.objects.get().root_cause == review.root_cause
