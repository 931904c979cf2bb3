"""Role follow-ups (post-incident-follow-up.txt): when a major incident resolves, each war-room
role holder gets their role's checklist once; the assignee or a manager ticks a step, and each
tick and untick is kept in the history and on the incident's timeline."""

import pytest

from incidents import clock
from incidents.choices import EventType
from incidents.models import IncidentEvent
from itsm.roles import Role
from postmortems import services, tasks
from postmortems.models import FollowUp, FollowUpTemplate, PostIncidentReview
from tests.conftest import api_error
from tests.postmortems.reviews import CLI, at
from warroom import services as warroom_services
from warroom.choices import WarRoomRole
from warroom.models import MajorIncident

R = WarRoomRole
CHECKLISTS = {
    (R.INCIDENT_COMMANDER, "ivan"): [
        "Set the final severity of the incident.",
        "Resolve the incident.",
        "Create the postmortem, and assign an owner to the postmortem for the incident.",
        "Send out an internal message to the relevant stakeholders explaining that we had an "
        "incident, and provide a link to the postmortem.",
        "Occasionally check on the progress of the postmortem to ensure that it is completed "
        "within the desired time frame.",
    ],
    (R.SCRIBE, "sid"): [
        "Review the war room's communications and extract any relevant items from key events.",
        "Collect all TODO items and add them to the postmortem.",
    ],
    (R.SME, "eve"): ["Add any notes you think are relevant to the postmortem."],
    (R.SME, "ed"): ["Add any notes you think are relevant to the postmortem."],
    (R.COMMUNICATIONS_LEAD, "cora"): [
        "Reply to any user or partner enquiries we received about the incident.",
        "Follow the postmortem progress, and update status pages and community channels with "
        "the external message once it is available.",
    ],
}


def url(incident, followup=None) -> str:
    tail = f"{followup.pk}/" if followup else ""
    return f"/api/incidents/{incident.number}/postmortem/followups/{tail}"


def checklists(incident) -> dict:
    rows = FollowUp.objects.filter(review__incident=incident).order_by("position")
    found: dict = {}
    for row in rows.select_related("assignee"):
        found.setdefault((row.role, row.assignee.username), []).append(row.text)
    return found


@pytest.fixture
def major(fight_major):
    """A resolved major incident whose review job has run."""
    incident = fight_major(at(hours=1))
    tasks.ensure_review(incident.pk)
    return incident


def step(incident, username: str, position: int = 1) -> FollowUp:
    return FollowUp.objects.get(
        review__incident=incident, assignee__username=username, position=position
    )


# --- assignment ----------------------------------------------------------------------------------


def test_each_role_holder_gets_their_checklist_once(fight_major, drive, manager):
    incident = fight_major(at(hours=1))

    tasks.ensure_review(incident.pk)
    tasks.ensure_review(incident.pk)
    drive(incident, manager, "reopen", "resolve")
    tasks.ensure_review(incident.pk)

    assert checklists(incident) == CHECKLISTS
    assigned = IncidentEvent.objects.filter(
        incident=incident, type=EventType.REVIEW, data__action="followups_assigned"
    )
    assert [event.summary for event in assigned] == [
        "Role follow-ups assigned: 11 steps for 5 people"
    ]


def test_a_p1_that_is_not_major_gets_no_follow_ups(resolve):
    incident = resolve("P1")

    tasks.ensure_review(incident.pk)

    assert PostIncidentReview.objects.filter(incident=incident).exists()
    assert not FollowUp.objects.exists()


def test_only_who_held_the_role_at_resolution_gets_it(fight_major, traveller, make_user, manager):
    incident = fight_major(at(hours=1))
    traveller.move_to(at(hours=1, minutes=5))
    later = make_user("lena", roles=[Role.RESPONDER])
    warroom_services.role_assign(
        major=MajorIncident.objects.get(incident=incident),
        actor=manager,
        source=CLI,
        role=R.SME,
        user=later,
    )

    tasks.ensure_review(incident.pk)

    assert not FollowUp.objects.filter(assignee=later).exists()


def test_an_edited_checklist_is_what_the_next_major_incident_gets(fight_major):
    scribe = FollowUpTemplate.objects.get(role=R.SCRIBE)
    scribe.items.filter(position=2).update(text="Collect the TODO lines into the review.")
    incident = fight_major(at(hours=1))

    tasks.ensure_review(incident.pk)

    assert checklists(incident)[(R.SCRIBE, "sid")] == [
        CHECKLISTS[(R.SCRIBE, "sid")][0],
        "Collect the TODO lines into the review.",
    ]


def test_the_clock_sweep_assigns_them_when_the_job_was_lost(fight_major, traveller):
    incident = fight_major(at(hours=1))
    traveller.move_to(at(hours=1, minutes=1))

    clock.tick()

    assert checklists(incident) == CHECKLISTS


# --- ticking -------------------------------------------------------------------------------------


def test_the_assignee_ticks_and_unticks_their_step(api, major, crew):
    ivan = crew[R.INCIDENT_COMMANDER][0]
    followup = step(major, "ivan", 2)
    client = api.as_user(ivan)

    ticked = client.patch(url(major, followup), {"done": True}, format="json")

    assert ticked.status_code == 200, ticked.content
    body = ticked.json()
    assert (body["done"], body["done_by"]["username"], body["text"]) == (
        True,
        "ivan",
        "Resolve the incident.",
    )
    unticked = client.patch(url(major, followup), {"done": False}, format="json")
    assert unticked.json()["done"] is False
    assert unticked.json()["done_by"] is None
    reasons = list(
        followup.history.order_by("history_id").values_list("history_change_reason", flat=True)
    )
    assert reasons == [
        "assigned by system (job)",
        "ticked by ivan (api)",
        "unticked by ivan (api)",
    ]
    summaries = IncidentEvent.objects.filter(
        incident=major, data__followup=followup.pk
    ).values_list("summary", "actor__username")
    assert list(summaries.order_by("pk")) == [
        ("Follow-up of the incident commander (Ivan) done: Resolve the incident.", "ivan"),
        ("Follow-up of the incident commander (Ivan) not done: Resolve the incident.", "ivan"),
    ]


def test_a_manager_ticks_anyones_step(api, major, manager):
    followup = step(major, "cora")

    response = api.as_user(manager).patch(url(major, followup), {"done": True}, format="json")

    assert response.status_code == 200, response.content
    followup.refresh_from_db()
    assert (followup.done, followup.done_by) == (True, manager)


def test_another_responder_may_not_tick_it(api, major, crew):
    sid = crew[R.SCRIBE][0]
    followup = step(major, "ivan")

    api_error(
        api.as_user(sid).patch(url(major, followup), {"done": True}, format="json"),
        403,
        "permission_denied",
    )

    followup.refresh_from_db()
    assert not followup.done
    assert followup.history.count() == 1


def test_a_stakeholder_reads_a_published_reviews_follow_ups_and_may_not_tick(
    api, major, manager, stakeholder
):
    review = PostIncidentReview.objects.get(incident=major)
    client = api.as_user(stakeholder)
    api_error(client.get(url(major)), 404, "not_found")  # a draft is not theirs to read
    services.review_submit(review=review, actor=manager, source=CLI)
    services.review_publish(review=review, actor=manager, source=CLI)

    listed = client.get(url(major))
    refused = client.patch(url(major, step(major, "ivan")), {"done": True}, format="json")

    assert listed.status_code == 200
    assert len(listed.json()) == 11
    assert not any(row["may_tick"] for row in listed.json())
    api_error(refused, 403, "permission_denied")
    assert not FollowUp.objects.filter(done_at__isnull=False).exists()


def test_bad_ids_are_404_and_a_bad_body_400(api, major, manager, fight_major, resolve):
    other = fight_major(at(hours=2), title="Search is slow")
    tasks.ensure_review(other.pk)
    foreign = FollowUp.objects.filter(review__incident=other).first()
    client = api.as_user(manager)
    mine = step(major, "ivan")
    base = f"/api/incidents/{major.number}/postmortem/followups/"

    api_error(client.patch(f"{base}{foreign.pk}/", {"done": True}, format="json"), 404, "not_found")
    api_error(client.patch(f"{base}999999/", {"done": True}, format="json"), 404, "not_found")
    api_error(client.get("/api/incidents/INC9999999/postmortem/followups/"), 404, "not_found")
    fields = api_error(
        client.patch(url(major, mine), {"done": "maybe"}, format="json"), 400, "invalid"
    )
    assert set(fields) == {"done"}
    api_error(client.patch(url(major, mine), {}, format="json"), 400, "invalid")
    api_error(
        client.patch(url(major, mine), {"done": True, "text": "x"}, format="json"), 400, "invalid"
    )
    assert not FollowUp.objects.filter(done_at__isnull=False).exists()


ROLE_MATRIX = [
    # who, GET list, PATCH another's step
    ("manager", 200, 200),
    ("responder", 200, 403),
    ("stakeholder", 404, 404),
    ("nobody", 403, 403),
]


@pytest.mark.parametrize(("who", "read", "tick"), ROLE_MATRIX)
def test_role_matrix(request, api, major, who, read, tick):
    client = api.as_user(request.getfixturevalue(who))
    followup = step(major, "ivan")

    assert client.get(url(major)).status_code == read
    assert client.patch(url(major, followup), {"done": True}, format="json").status_code == tick


def test_the_list_is_in_role_order_with_who_may_tick(api, major, crew):
    body = api.as_user(crew[R.SCRIBE][0]).get(url(major)).json()

    assert [(row["role"], row["assignee"]["username"]) for row in body][:3] == [
        (R.INCIDENT_COMMANDER, "ivan")
    ] * 3
    assert [row["assignee"]["username"] for row in body if row["may_tick"]] == ["sid", "sid"]


def test_the_list_takes_the_same_queries_however_many_steps(
    api, major, manager, fight_major, django_assert_num_queries
):
    client = api.as_user(manager)
    client.get(url(major))  # the token's first use is recorded once
    for followup in FollowUp.objects.filter(review__incident=major)[:4]:
        client.patch(url(major, followup), {"done": True}, format="json")

    with django_assert_num_queries(QUERIES):
        response = client.get(url(major))

    assert len(response.json()) == 11


QUERIES = 3  # the token (the permissions are cached); the review; its follow-ups


# --- the portal ----------------------------------------------------------------------------------


def test_the_review_page_shows_the_checklists_and_ticks_through_the_portal(signed_in, major, crew):
    ivan = crew[R.INCIDENT_COMMANDER][0]
    followup = step(major, "ivan")

    html = signed_in(ivan).get(f"/postmortems/{major.number}/").content.decode()

    assert html.count("/tick/") == 5  # ivan's own steps only
    assert "Collect all TODO items and add them to the postmortem." in html
    action = f"/postmortems/{major.number}/followups/{followup.pk}/tick/"
    assert action in html
    response = signed_in(ivan).post(action, {"done": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"/postmortems/{major.number}/"
    followup.refresh_from_db()
    assert followup.done_by == ivan


def test_the_portal_refuses_a_tick_by_someone_else(signed_in, major, crew):
    followup = step(major, "ivan")

    response = signed_in(crew[R.SCRIBE][0]).post(
        f"/postmortems/{major.number}/followups/{followup.pk}/tick/", {"done": "1"}
    )

    assert response.status_code == 403
    followup.refresh_from_db()
    assert not followup.done
