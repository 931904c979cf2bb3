"""The review: drafted by the job (and the clock's sweep) when an incident that requires one
resolves, due as the policy says; its transitions and edits through the services."""

from datetime import timedelta

import pytest

from incidents import clock
from incidents.choices import EventType
from itsm.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from postmortems import services, tasks
from postmortems.choices import PolicyScope, ReviewStatus
from postmortems.models import PostIncidentReview, ReviewPolicy
from tests.factories import make_incident
from tests.postmortems.reviews import CLI, at, resolved_incident
from warroom import services as warroom_services

S = ReviewStatus


def review_events(incident) -> list[str]:
    return list(
        incident.events.filter(type=EventType.REVIEW)
        .order_by("id")
        .values_list("summary", flat=True)
    )


def test_resolving_a_p1_drafts_a_required_review_due_48_hours_later(resolve, responder):
    incident = resolve("P1")
    assert not PostIncidentReview.objects.exists()

    tasks.ensure_review(incident.pk)

    review = PostIncidentReview.objects.get(incident=incident)
    assert (review.status, review.required) == (S.DRAFT, True)
    assert review.due_at == at(hours=1) + timedelta(hours=48)
    assert review.owner == responder  # the assignee, as no major incident manager is named
    assert review.facts["number"] == incident.number
    assert review_events(incident) == [
        "Required post-incident review drafted, due 2026-03-04 11:00 UTC"
    ]


def test_the_resolution_queues_the_job_after_the_commit(traveller, drive, responder, committing):
    incident = resolved_incident(traveller, drive, responder, priority="P1", resolve_at=at(hours=1))
    drive(incident, responder, "reopen")
    assert not PostIncidentReview.objects.exists()

    committing(drive, incident, responder, "resolve")  # the worker runs in-line in tests

    assert PostIncidentReview.objects.get(incident=incident).required


def test_a_p2_review_is_due_a_week_after_resolution(resolve):
    incident = resolve("P2")
    tasks.ensure_review(incident.pk)
    assert incident.review.due_at == at(hours=1) + timedelta(days=7)


def test_a_p3_has_no_review_until_someone_asks_for_one(resolve, responder):
    incident = resolve("P3")
    assert tasks.ensure_review(incident.pk) is None
    assert not PostIncidentReview.objects.exists()

    review = services.review_create(incident=incident, actor=responder, source=CLI)

    assert (review.required, review.status, review.owner) == (False, S.DRAFT, responder)
    assert review.due_at == at(hours=1) + timedelta(days=14)


def test_an_open_incident_gets_no_review_and_asking_for_one_is_refused(responder):
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    assert tasks.ensure_review(incident.pk) is None
    with pytest.raises(InvalidTransition, match="written once it is resolved"):
        services.review_create(incident=incident, actor=responder, source=CLI)


def test_asking_twice_is_a_conflict(resolve, responder):
    incident = resolve("P3")
    services.review_create(incident=incident, actor=responder, source=CLI)
    with pytest.raises(Exception, match="already has a post-incident review") as caught:
        services.review_create(incident=incident, actor=responder, source=CLI)
    assert caught.value.status == 409


@pytest.fixture
def major_p3(traveller, drive, responder, manager):
    """A P3 declared major by `manager`, resolved at T0 + 2 h."""
    incident = make_incident(actor=responder, priority="P3", assignee=responder)
    warroom_services.major_incident_declare(
        incident=incident,
        actor=manager,
        source=CLI,
        manager=manager,
        initial_impact_statement="Checkout fails",
    )
    drive(incident, responder, "acknowledge", "start")
    traveller.move_to(at(hours=2))
    return drive(incident, responder, "resolve")


def test_a_major_incident_always_requires_one_owned_by_its_manager(major_p3, manager):
    tasks.ensure_review(major_p3.pk)

    review = PostIncidentReview.objects.get(incident=major_p3)
    assert review.required and review.owner == manager
    assert review.due_at == at(hours=2) + timedelta(hours=48)
    assert review.facts["major_incident"] is True


def test_the_sweep_finds_a_major_incident_of_any_priority(major_p3, traveller):
    traveller.move_to(at(hours=2, seconds=6))
    assert clock.tick()["postmortem_reviews"] == 1
    assert PostIncidentReview.objects.get(incident=major_p3).required


def test_the_policy_edited_in_the_admin_decides(resolve):
    ReviewPolicy.objects.filter(scope=PolicyScope.P3).update(
        required=True, due_after=timedelta(days=3)
    )
    incident = resolve("P3")
    tasks.ensure_review(incident.pk)
    assert incident.review.due_at == at(hours=1, days=3)


def test_running_the_job_twice_drafts_once(resolve):
    incident = resolve("P1")
    first = tasks.ensure_review(incident.pk)
    assert tasks.ensure_review(incident.pk) == first
    assert PostIncidentReview.objects.count() == 1
    assert len(review_events(incident)) == 1


def test_the_clock_sweeps_up_a_review_the_job_missed(resolve, traveller):
    incident = resolve("P1")

    # The job gets the first few seconds.
    assert clock.tick(now=at(hours=1, seconds=1))["postmortem_reviews"] == 0
    traveller.move_to(at(hours=1, seconds=6))
    assert clock.tick()["postmortem_reviews"] == 1
    assert clock.tick()["postmortem_reviews"] == 0

    review = PostIncidentReview.objects.get(incident=incident)
    assert review.due_at == at(hours=1, days=2)


def test_the_sweep_leaves_incidents_that_need_no_review(resolve, traveller):
    resolve("P3")
    traveller.move_to(at(hours=2))
    assert clock.tick()["postmortem_reviews"] == 0
    assert not PostIncidentReview.objects.exists()


def test_reopening_keeps_the_review(resolve, drive, responder):
    incident = resolve("P1")
    review = services.review_ensure_for(incident_id=incident.pk)

    incident = drive(incident, responder, "reopen")
    assert PostIncidentReview.objects.get(incident=incident) == review
    drive(incident, responder, "resolve")
    assert services.review_ensure_for(incident_id=incident.pk) == review


# --- transitions -------------------------------------------------------------------------------


@pytest.fixture
def optional_review(resolve, responder):
    return services.review_create(incident=resolve("P3"), actor=responder, source=CLI)


def _to(review, status, manager):
    """Move a fresh optional draft to `status`."""
    if status == S.SKIPPED:
        return services.review_skip(review=review, actor=manager, source=CLI, reason="minor")
    if status in (S.IN_REVIEW, S.PUBLISHED):
        review = services.review_submit(review=review, actor=manager, source=CLI)
    if status == S.PUBLISHED:
        review = services.review_publish(review=review, actor=manager, source=CLI)
    return review


RUN = {
    "submit": lambda review, actor: services.review_submit(review=review, actor=actor, source=CLI),
    "publish": lambda review, actor: services.review_publish(
        review=review, actor=actor, source=CLI
    ),
    "return": lambda review, actor: services.review_return(
        review=review, actor=actor, source=CLI, reason="the timeline is wrong"
    ),
    "skip": lambda review, actor: services.review_skip(
        review=review, actor=actor, source=CLI, reason="a minor blip"
    ),
}
ALLOWED = {
    (S.DRAFT, "submit"): S.IN_REVIEW,
    (S.DRAFT, "skip"): S.SKIPPED,
    (S.IN_REVIEW, "publish"): S.PUBLISHED,
    (S.IN_REVIEW, "return"): S.DRAFT,
    (S.SKIPPED, "return"): S.DRAFT,
}


@pytest.mark.parametrize("status", [S.DRAFT, S.IN_REVIEW, S.PUBLISHED, S.SKIPPED])
@pytest.mark.parametrize("name", list(RUN))
def test_every_transition_from_every_state(optional_review, manager, status, name):
    review = _to(optional_review, status, manager)
    target = ALLOWED.get((status, name))

    if target is None:
        with pytest.raises(InvalidTransition) as caught:
            RUN[name](review, manager)
        assert caught.value.status == 409
        assert f"is {review.get_status_display().lower()}:" in caught.value.message
        assert PostIncidentReview.objects.get(pk=review.pk).status == status
    else:
        assert RUN[name](review, manager).status == target
        assert PostIncidentReview.objects.get(pk=review.pk).status == target
        assert review_events(review.incident)[-1].startswith("Post-incident review ")


def test_a_required_review_cannot_be_skipped(resolve, manager):
    review = services.review_ensure_for(incident_id=resolve("P1").pk)
    with pytest.raises(InvalidTransition, match="only an optional draft can be skipped"):
        RUN["skip"](review, manager)


def test_only_managers_publish(optional_review, responder, manager):
    review = services.review_submit(review=optional_review, actor=responder, source=CLI)
    with pytest.raises(PermissionDeniedError) as caught:
        services.review_publish(review=review, actor=responder, source=CLI)
    assert caught.value.status == 403
    assert services.review_publish(review=review, actor=manager, source=CLI).published_at


def test_stakeholders_change_nothing(optional_review, stakeholder):
    with pytest.raises(PermissionDeniedError):
        services.review_create(incident=optional_review.incident, actor=stakeholder, source=CLI)
    with pytest.raises(PermissionDeniedError):
        services.review_submit(review=optional_review, actor=stakeholder, source=CLI)
    with pytest.raises(PermissionDeniedError):
        services.review_update(
            review=optional_review, actor=stakeholder, source=CLI, sections={"summary": "x"}
        )


def test_skip_and_return_need_a_reason(optional_review, manager):
    with pytest.raises(ValidationFailed) as caught:
        services.review_skip(review=optional_review, actor=manager, source=CLI, reason="  ")
    assert caught.value.fields == {"reason": ["This field is required."]}
    assert PostIncidentReview.objects.get().status == S.DRAFT


def test_the_draft_takes_a_bounded_number_of_queries(resolve, django_assert_max_num_queries):
    incident = resolve("P1")
    # 15 for the draft; 3 for the job's own transaction (a savepoint here) and asking whether
    # the incident is major (then its follow-ups and meeting are written too); 1 for the chat
    # relay looking for a war room of the "drafted" event, in its transaction.
    with django_assert_max_num_queries(19):
        tasks.ensure_review(incident.pk)


def test_the_history_names_each_change(optional_review, manager):
    services.review_submit(review=optional_review, actor=manager, source=CLI)
    reasons = list(
        optional_review.history.order_by("history_id").values_list(
            "history_change_reason", flat=True
        )
    )
    assert reasons == ["drafted by rita (cli)", "submitted for review by mona (cli)"]


# --- edits -------------------------------------------------------------------------------------


def test_editing_sections_timeline_and_owner(optional_review, responder, manager):
    rows = [
        {"at": "2026-03-02T10:00:00+00:00", "event": "Detected", "action": "x", "owner": "Rita"}
    ]
    review = services.review_update(
        review=optional_review,
        actor=responder,
        source=CLI,
        sections={"root_cause": "A **bad** deploy", "lessons_learned": "Canary first"},
        timeline=rows,
        owner=manager,
    )
    review.refresh_from_db()
    assert (review.root_cause, review.lessons_learned) == ("A **bad** deploy", "Canary first")
    assert review.timeline == rows and review.owner == manager
    assert review_events(review.incident)[-1] == (
        "Post-incident review edited: lessons_learned, owner, root_cause, timeline"
    )


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"sections": {"summary": "x" * 50_001}}, "summary"),
        ({"sections": {"verdict": "guilty"}}, "verdict"),
        ({"sections": {"summary": 12}}, "summary"),
        ({"sections": ["summary"]}, "sections"),
        ({"timeline": "yesterday"}, "timeline"),
        ({"timeline": [{"at": "now", "blame": "bob"}]}, "timeline"),
        ({"proposed_action_items": [{"text": ""}]}, "proposed_action_items"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(optional_review, responder, changes, field):
    before = optional_review.history.count()
    with pytest.raises(ValidationFailed) as caught:
        services.review_update(review=optional_review, actor=responder, source=CLI, **changes)
    assert caught.value.status == 400
    assert field in caught.value.fields
    assert optional_review.history.count() == before


def test_an_owner_must_be_able_to_edit_reviews(optional_review, responder, stakeholder):
    with pytest.raises(ValidationFailed) as caught:
        services.review_update(
            review=optional_review, actor=responder, source=CLI, owner=stakeholder
        )
    assert list(caught.value.fields) == ["owner"]


def test_a_published_review_is_not_edited(optional_review, manager):
    review = _to(optional_review, S.PUBLISHED, manager)
    with pytest.raises(InvalidTransition, match="return it to draft"):
        services.review_update(review=review, actor=manager, source=CLI, sections={"summary": "x"})
