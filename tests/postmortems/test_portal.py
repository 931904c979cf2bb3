"""The review pages (postmortems/views.py): who sees what, each form's happy path and its bad
input (the page again with the error, 400, nothing written), illegal transitions (409), inert
Markdown, the Markdown export and the printable page, and what the pages cost in queries."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from postmortems import services, tasks
from postmortems.action_items import action_item_update
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.models import SECTION_MAX_LENGTH, SECTIONS, ActionItem, PostIncidentReview
from tests.factories import make_incident
from tests.postmortems.conftest import CLI
from warroom.services import major_incident_declare

S = ReviewStatus
XSS = "<script>alert(1)</script>"
PAGES = ["list", "detail", "export", "print"]


def url(name: str, incident=None, *args) -> str:
    return reverse(f"postmortems:{name}", args=[incident.number, *args] if incident else [])


def review_of(incident) -> PostIncidentReview:
    return PostIncidentReview.objects.get(incident=incident)


def text_of(response) -> str:
    return response.content.decode()


@pytest.fixture
def drafted(resolve):
    """A resolved P1 and its drafted, required review (owned by the responder)."""
    incident = resolve("P1")
    tasks.ensure_review(incident.pk)
    return incident


def declare_major(incident, manager):
    return major_incident_declare(
        incident=incident,
        actor=manager,
        source=CLI,
        manager=manager,
        initial_impact_statement="Checkout fails for everyone",
    )


def move(incident, actor, *names, reason="because"):
    """Move the review along with the services (not through the pages under test)."""
    steps = {
        "submit": services.review_submit,
        "publish": services.review_publish,
        "return": services.review_return,
        "skip": services.review_skip,
    }
    for name in names:
        extra = {"reason": reason} if name in ("return", "skip") else {}
        steps[name](review=review_of(incident), actor=actor, source=CLI, **extra)


def edit(incident, actor, **changes):
    return services.review_update(review=review_of(incident), actor=actor, source=CLI, **changes)


# --- who sees what -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_every_page_needs_a_login_and_a_role(client, nobody, drafted, name):
    address = url(name, None if name == "list" else drafted)

    assert client.get(address).url.startswith(reverse("login"))
    client.force_login(nobody)
    assert client.get(address).status_code == 403


def test_writes_need_a_login(client, drafted):
    response = client.post(url("section", drafted, "summary"), {"text": "x", "base_version": 0})

    assert response.url.startswith(reverse("login"))
    assert review_of(drafted).summary != "x"


def test_a_stakeholder_reads_published_reviews_only(signed_in, stakeholder, manager, drafted):
    client = signed_in(stakeholder)

    for name in ("detail", "export", "print"):
        assert client.get(url(name, drafted)).status_code == 404, name
    listed = client.get(url("list"))
    assert drafted.number not in text_of(listed)
    assert client.get(url("list"), {"show": "due"}).status_code == 400

    move(drafted, manager, "submit", "publish")

    page = text_of(client.get(url("detail", drafted)))
    assert "Published" in page and 'data-section="summary"' not in page
    assert "Change status" not in page and "Add action item" not in page
    assert drafted.number in text_of(client.get(url("list")))
    assert client.get(url("print", drafted)).status_code == 200


def test_a_stakeholder_cannot_write(signed_in, stakeholder, manager, drafted):
    move(drafted, manager, "submit", "publish")
    client = signed_in(stakeholder)

    assert client.post(url("transition", drafted, "return"), {"reason": "x"}).status_code == 403
    assert client.post(url("add_item", drafted), {"title": "x"}).status_code == 403
    assert review_of(drafted).status == S.PUBLISHED
    assert not ActionItem.objects.exists()


def test_a_responder_edits_but_cannot_publish(signed_in, responder, drafted):
    client = signed_in(responder)
    page = text_of(client.get(url("detail", drafted)))

    assert f'data-review="{drafted.number}"' in page
    assert 'data-section="root_cause"' in page and 'name="text"' in page
    assert "Submit for review" in page and ">Publish<" not in page
    move(drafted, responder, "submit")
    assert ">Publish<" not in text_of(client.get(url("detail", drafted)))

    response = client.post(url("transition", drafted, "publish"))

    assert response.status_code == 403
    assert "You may not publish it." in text_of(response)
    assert review_of(drafted).status == S.IN_REVIEW


def test_the_document_shows_the_facts_status_and_due(signed_in, manager, drafted):
    review = review_of(drafted)
    page = text_of(signed_in(manager).get(url("detail", drafted)))

    assert review.facts["duration"] in page
    assert "Required review, due" in page and "Draft" in page
    assert "Rita" in page or "rita" in page
    for row in review.timeline:
        assert row["event"] in page


def test_an_incident_without_a_review_is_404(signed_in, manager, incident):
    client = signed_in(manager)

    assert client.get(url("detail", incident)).status_code == 404
    assert client.get(url("export", incident)).status_code == 404


# --- the list ------------------------------------------------------------------------------------


@pytest.fixture
def reviews(resolve, responder, manager, traveller):
    """Three reviews: an overdue draft (P1, due soonest), a P2 draft owned by the manager, and
    a published P1."""
    overdue = resolve("P1", title="Overdue one")
    tasks.ensure_review(overdue.pk)
    mine = resolve("P2", title="Manager's one")
    tasks.ensure_review(mine.pk)
    edit(mine, manager, owner=manager)
    published = resolve("P1", title="Published one")
    tasks.ensure_review(published.pk)
    move(published, manager, "submit", "publish")
    traveller.move_to(review_of(overdue).due_at + timedelta(hours=1))
    return overdue, mine, published


def rows(response) -> list[str]:
    html = text_of(response)
    return [chunk.split("</a>")[0] for chunk in html.split('class="pm-review-row"')[1:]]


def test_the_list_tabs(signed_in, manager, reviews):
    overdue, mine, published = reviews
    client = signed_in(manager)

    due = rows(client.get(url("list")))
    assert [overdue.number in due[0], mine.number in due[1], len(due)] == [True, True, 2]
    assert "· overdue" in text_of(client.get(url("list")))
    assert [
        overdue.number in row for row in rows(client.get(url("list"), {"show": "overdue"}))
    ] == [True]
    assert [mine.number in row for row in rows(client.get(url("list"), {"show": "mine"}))] == [True]
    assert [
        published.number in row for row in rows(client.get(url("list"), {"show": "published"}))
    ] == [True]
    bad = client.get(url("list"), {"show": "everything"})
    assert bad.status_code == 400 and "There is no list" in text_of(bad)


def test_the_list_counts_action_items(signed_in, manager, reviews, make_item):
    overdue = reviews[0]
    make_item(incident=overdue)
    done = make_item(incident=overdue, title="Done one")
    ActionItem.objects.filter(pk=done.pk).update(status="done", completed_at=done.created_at)

    page = text_of(signed_in(manager).get(url("list")))

    assert "1 open of 2" in page


# --- the sections, the timeline, the owner, the public summary -----------------------------------


def test_saving_a_section(signed_in, responder, drafted):
    response = signed_in(responder).post(
        url("section", drafted, "root_cause"),
        {"text": "The **pool** was exhausted.\r\n", "base_version": 0},
    )

    assert response.status_code == 302 and response.url == url("detail", drafted)
    assert review_of(drafted).root_cause == "The **pool** was exhausted.\n"
    page = text_of(signed_in(responder).get(url("detail", drafted)))
    assert "Root cause saved." in page and "<strong>pool</strong>" in page


def test_a_plain_post_from_an_older_version_keeps_what_others_saved(
    signed_in, responder, manager, drafted
):
    """Two people opened the page at version 0; the second one's post (without the live
    script) merges rather than overwrites."""
    signed_in(manager).post(
        url("section", drafted, "went_well"), {"text": "Paging worked.", "base_version": 0}
    )
    response = signed_in(responder).post(
        url("section", drafted, "went_well"), {"text": "Rollback was quick.", "base_version": 0}
    )

    assert response.status_code == 302
    merged = review_of(drafted).went_well
    assert "Paging worked." in merged and "Rollback was quick." in merged
    page = text_of(signed_in(responder).get(url("detail", drafted)))
    assert "What went well saved, merged with what others saved meanwhile." in page


def test_a_section_post_without_its_version_is_refused(signed_in, responder, drafted):
    before = review_of(drafted).summary

    response = signed_in(responder).post(url("section", drafted, "summary"), {"text": "x"})

    assert response.status_code == 400
    assert review_of(drafted).summary == before


def test_a_section_too_long_is_refused_and_nothing_written(signed_in, responder, drafted):
    before = review_of(drafted).summary

    response = signed_in(responder).post(
        url("section", drafted, "summary"),
        {"text": "x" * (SECTION_MAX_LENGTH + 1), "base_version": 0},
    )

    assert response.status_code == 400
    assert "Please correct the highlighted fields." in text_of(response)
    assert f"at most {SECTION_MAX_LENGTH} characters" in text_of(response)
    assert review_of(drafted).summary == before


def test_an_unknown_section_is_404(signed_in, responder, drafted):
    assert (
        signed_in(responder)
        .post(url("section", drafted, "colour"), {"text": "x", "base_version": 0})
        .status_code
        == 404
    )


def test_a_published_review_is_not_edited(signed_in, manager, drafted):
    move(drafted, manager, "submit", "publish")

    response = signed_in(manager).post(
        url("section", drafted, "summary"), {"text": "Late", "base_version": 0}
    )

    assert response.status_code == 409
    assert "return it to draft to edit it" in text_of(response)
    assert review_of(drafted).summary != "Late"


def timeline_post(rows: list[dict], *, deleted=()) -> dict:
    data = {
        "timeline-TOTAL_FORMS": str(len(rows)),
        "timeline-INITIAL_FORMS": "0",
        "timeline-MIN_NUM_FORMS": "0",
        "timeline-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for column, value in row.items():
            data[f"timeline-{index}-{column}"] = value
        if index in deleted:
            data[f"timeline-{index}-DELETE"] = "on"
    return data


def test_saving_the_timeline_keeps_rows_drops_deleted_and_empty(signed_in, responder, drafted):
    rows_posted = [
        {"at": "10:00", "event": "Alert fired", "action": "Paged", "owner": "Rita"},
        {"at": "10:05", "event": "Wrong row", "action": "", "owner": ""},
        {"at": "", "event": "", "action": "", "owner": ""},
        {"at": "11:00", "event": "Resolved", "action": "Patched", "owner": "Rita"},
    ]

    response = signed_in(responder).post(
        url("timeline", drafted), timeline_post(rows_posted, deleted={1})
    )

    assert response.status_code == 302
    assert review_of(drafted).timeline == [rows_posted[0], rows_posted[3]]


def test_a_timeline_cell_too_long_is_refused(signed_in, responder, drafted):
    before = review_of(drafted).timeline

    response = signed_in(responder).post(
        url("timeline", drafted), timeline_post([{"at": "x", "event": "e" * 2001}])
    )

    assert response.status_code == 400
    assert "at most 2000 characters" in text_of(response)
    assert review_of(drafted).timeline == before


def test_changing_the_owner(signed_in, responder, manager, drafted):
    client = signed_in(responder)

    response = client.post(url("owner", drafted), {"owner": manager.username})

    assert response.status_code == 302
    assert review_of(drafted).owner == manager


@pytest.mark.parametrize("who", ["nobody-here", "stella"])
def test_an_owner_who_cannot_edit_reviews_is_refused(
    signed_in, responder, stakeholder, drafted, who
):
    response = signed_in(responder).post(url("owner", drafted), {"owner": who})

    assert response.status_code == 400
    assert "Select a valid choice." in text_of(response)
    assert review_of(drafted).owner == responder


def test_the_public_summary(signed_in, responder, drafted):
    client = signed_in(responder)

    assert (
        client.post(url("public_summary", drafted), {"public_summary": "Fixed."}).status_code == 302
    )
    assert review_of(drafted).public_summary == "Fixed."
    long = client.post(
        url("public_summary", drafted), {"public_summary": "x" * (SECTION_MAX_LENGTH + 1)}
    )
    assert long.status_code == 400 and review_of(drafted).public_summary == "Fixed."


# --- transitions ---------------------------------------------------------------------------------


def test_submit_publish_return(signed_in, responder, manager, drafted):
    rita, mona = signed_in(responder), None

    assert rita.post(url("transition", drafted, "submit")).status_code == 302
    assert review_of(drafted).status == S.IN_REVIEW
    mona = signed_in(manager)
    page = text_of(mona.get(url("detail", drafted)))
    assert ">Publish<" in page and "Return to draft" in page
    assert mona.post(url("transition", drafted, "publish")).status_code == 302
    assert review_of(drafted).status == S.PUBLISHED
    page = text_of(mona.get(url("detail", drafted)))
    assert "is now published" in page and "Submit for review" not in page


def test_return_needs_a_reason(signed_in, responder, drafted):
    move(drafted, responder, "submit")
    client = signed_in(responder)

    missing = client.post(url("transition", drafted, "return"), {"reason": ""})
    assert missing.status_code == 400 and "This field is required." in text_of(missing)
    assert review_of(drafted).status == S.IN_REVIEW

    done = client.post(url("transition", drafted, "return"), {"reason": "Add the timeline"})
    assert done.status_code == 302
    assert review_of(drafted).status == S.DRAFT
    assert "Returned to draft: Add the timeline" in text_of(client.get(url("detail", drafted)))


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("publish", {}, "only a review in review can be published"),
        ("skip", {"reason": "minor"}, "only an optional draft can be skipped"),
        ("return", {"reason": "why"}, "only a review in review or skipped can go back"),
    ],
)
def test_an_illegal_transition_is_409_with_a_clear_error(
    signed_in, manager, drafted, name, data, says
):
    response = signed_in(manager).post(url("transition", drafted, name), data)

    assert response.status_code == 409
    assert says in text_of(response)
    assert review_of(drafted).status == S.DRAFT


def test_an_optional_review_is_skipped_with_a_reason(signed_in, responder, resolve):
    incident = resolve("P3")
    services.review_create(incident=incident, actor=responder, source=CLI)
    client = signed_in(responder)
    assert "Skip" in text_of(client.get(url("detail", incident)))

    assert (
        client.post(url("transition", incident, "skip"), {"reason": "Minor blip"}).status_code
        == 302
    )

    assert (review_of(incident).status, review_of(incident).skip_reason) == (
        S.SKIPPED,
        "Minor blip",
    )
    assert "Skipped: Minor blip" in text_of(client.get(url("detail", incident)))


def test_an_unknown_transition_is_404(signed_in, manager, drafted):
    assert signed_in(manager).post(url("transition", drafted, "burn")).status_code == 404


# --- starting a review from the incident page ----------------------------------------------------


def test_starting_an_optional_review_from_the_incident_page(signed_in, responder, resolve):
    incident = resolve("P3")
    client = signed_in(responder)
    assert "Start post-incident review" in text_of(client.get(incident.get_absolute_url()))

    response = client.post(url("start", incident))

    assert response.status_code == 302 and response.url == url("detail", incident)
    assert review_of(incident).required is False
    page = text_of(client.get(incident.get_absolute_url()))
    assert "Start post-incident review" not in page
    assert "Post-incident review: draft, due" in page


def test_starting_a_review_of_an_open_incident_is_409(signed_in, responder, incident):
    client = signed_in(responder)
    assert "Start post-incident review" not in text_of(client.get(incident.get_absolute_url()))

    response = client.post(url("start", incident))

    assert response.status_code == 409
    assert "a review is written once it is resolved" in text_of(response)
    assert not PostIncidentReview.objects.exists()


def test_a_stakeholder_cannot_start_one(signed_in, stakeholder, resolve):
    incident = resolve("P3")

    assert signed_in(stakeholder).post(url("start", incident)).status_code == 403
    assert not PostIncidentReview.objects.exists()


def test_the_war_room_links_the_review(signed_in, manager, responder, drive, traveller):
    incident = make_incident(actor=responder, priority="P1", assignee=responder)
    declare_major(incident, manager)
    drive(incident, responder, "acknowledge", "start", "resolve")
    room = reverse("warroom:room", args=[incident.number])
    client = signed_in(manager)
    assert "Post-incident review:" not in text_of(client.get(room))

    tasks.ensure_review(incident.pk)

    assert "Post-incident review: draft, due" in text_of(client.get(room))
    assert url("detail", incident) in text_of(client.get(room))


# --- action items --------------------------------------------------------------------------------


def test_accepting_a_proposed_item(signed_in, responder, drafted, traveller):
    edit(drafted, responder, proposed_action_items=[{"text": "Alert on pool saturation"}])
    client = signed_in(responder)
    assert "Alert on pool saturation" in text_of(client.get(url("detail", drafted)))

    response = client.post(url("accept_proposed", drafted, 0))

    assert response.status_code == 302
    item = ActionItem.objects.get(incident=drafted)
    assert (item.title, item.owner, item.status) == ("Alert on pool saturation", responder, "open")
    page = text_of(client.get(url("detail", drafted)))
    assert "Action item added: Alert on pool saturation" in page
    assert '<span class="tag">accepted</span>' in page


def test_accepting_a_proposal_that_does_not_exist_is_404(signed_in, responder, drafted):
    assert signed_in(responder).post(url("accept_proposed", drafted, 7)).status_code == 404
    assert not ActionItem.objects.exists()


ITEM = {
    "title": "Alert on pool saturation",
    "owner": "mona",
    "due_date": "2026-03-20",
    "priority": "P0",
    "type": "detect",
}


def test_adding_an_action_item(signed_in, responder, manager, drafted):
    client = signed_in(responder)

    response = client.post(url("add_item", drafted), ITEM)

    assert response.status_code == 302
    item = ActionItem.objects.get(incident=drafted)
    assert (item.owner, item.due_date, item.priority, item.type) == (
        manager,
        date(2026, 3, 20),
        "P0",
        "detect",
    )
    page = text_of(client.get(url("detail", drafted)))
    assert 'class="pm-item"' in page and "Alert on pool saturation" in page


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("title", "", "This field is required."),
        ("owner", "stella", "Select a valid choice."),
        ("due_date", "next week", "Enter a valid date."),
        ("priority", "P9", "Select a valid choice."),
    ],
)
def test_a_bad_action_item_is_refused(
    signed_in, responder, stakeholder, drafted, field, value, says
):
    response = signed_in(responder).post(url("add_item", drafted), {**ITEM, field: value})

    assert response.status_code == 400
    assert says in " ".join(response.context["item_form"].errors[field])
    assert not ActionItem.objects.exists()


def test_changing_an_items_status(signed_in, responder, drafted, make_item):
    item = make_item(incident=drafted)
    client = signed_in(responder)

    assert client.post(url("item_status", drafted, item.pk), {"status": "done"}).status_code == 302
    item.refresh_from_db()
    assert item.status == ActionItemStatus.DONE and item.completed_at is not None


def test_wont_do_needs_a_reason(signed_in, responder, drafted, make_item):
    item = make_item(incident=drafted)
    client = signed_in(responder)
    address = url("item_status", drafted, item.pk)

    refused = client.post(address, {"status": "wont_do", "wont_do_reason": ""})
    assert refused.status_code == 400
    assert "Say why the item will not be done." in text_of(refused)
    item.refresh_from_db()
    assert item.status == ActionItemStatus.OPEN

    assert (
        client.post(address, {"status": "wont_do", "wont_do_reason": "Retired"}).status_code == 302
    )
    item.refresh_from_db()
    assert (item.status, item.wont_do_reason) == (ActionItemStatus.WONT_DO, "Retired")
    assert "(Retired)" in text_of(client.get(url("detail", drafted)))


def test_an_item_of_another_incident_is_404(signed_in, responder, drafted, make_item, incident):
    other = make_item(incident=incident)

    response = signed_in(responder).post(url("item_status", drafted, other.pk), {"status": "done"})

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == ActionItemStatus.OPEN


# --- markdown, the export, the printable page ----------------------------------------------------


def test_markdown_with_a_script_renders_inert(signed_in, manager, drafted):
    edit(
        drafted, manager, sections={"summary": f"Hello {XSS}", "impact": "[x](javascript:alert(1))"}
    )
    move(drafted, manager, "submit", "publish")
    client = signed_in(manager)

    for name in ("detail", "print"):
        page = text_of(client.get(url(name, drafted)))
        assert XSS not in page, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name
        assert 'href="javascript:' not in page, name


@pytest.fixture
def full_review(drafted, manager, responder, make_item):
    """The drafted review with every section written, a timeline of `n` rows and `n` items."""

    def fill(n: int):
        for name in SECTIONS:  # one at a time, as the page saves them
            edit(drafted, manager, sections={name: f"Text of **{name}**"})
        edit(
            drafted,
            manager,
            timeline=[
                {"at": f"10:{i:02}", "event": f"Event {i}", "action": f"Act {i}", "owner": "Rita"}
                for i in range(n)
            ],
        )
        edit(
            drafted,
            manager,
            proposed_action_items=[{"text": f"TODO proposal {i}"} for i in range(n)],
        )
        owners = [manager, responder]
        for i in range(n):
            make_item(incident=drafted, title=f"Item | {i}", owner=owners[i % 2])
        return review_of(drafted)

    return fill


def test_the_export_is_the_whole_document_in_markdown(signed_in, manager, drafted, full_review):
    review = full_review(2)

    response = signed_in(manager).get(url("export", drafted))

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{drafted.number}-review.md"'
    text = text_of(response)
    assert text.startswith(f"# Post-incident review: {drafted.number} {drafted.title}\n")
    assert f"- **Duration:** {review.facts['duration']}" in text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Facts",
        "## Incident summary",
        "## Impact",
        "## Timeline",
        "## Trigger and detection",
        "## Root cause",
        "## What went well",
        "## What went poorly",
        "## Where we got lucky",
        "## Action items",
        "## Prevention and detection",
        "## Lessons learned",
    ]
    assert "Text of **root_cause**" in text
    assert (
        "| Time | Event | Action | Owner |\n| --- | --- | --- | --- |\n| 10:00 | Event 0 |" in text
    )
    assert "| Item \\| 0 | Mona" in text or "| Item \\| 0 | mona" in text


def test_the_printable_page_has_the_document_and_no_navigation(
    signed_in, manager, drafted, full_review
):
    full_review(2)

    page = text_of(signed_in(manager).get(url("print", drafted)))

    assert '<nav class="nav"' not in page and "<form" not in page
    assert "postmortems.css" in page and "Text of <strong>lessons_learned</strong>" in page
    assert page.index("Incident summary") < page.index("Timeline") < page.index("Action items")
    assert "Event 1" in page and "Item | 1" in page


# --- what the pages cost -------------------------------------------------------------------------

# session, user, permissions (user + group), roles, the bell's unread count
PAGE = 6
# the count, the page of reviews with their incidents, owners and item counts
LIST = PAGE + 2
# the review with its incident and owner, its action items with owners, its meeting and its
# role follow-ups, the people offered as owners (one read for the owner and the new item's
# forms; none for a reader)
DOCUMENT = {"manager": PAGE + 5, "stakeholder": PAGE + 4}
# the same without the bell (no top bar); the review; its items
PRINT = PAGE - 1 + 2


@pytest.mark.parametrize("n", [1, 8])
def test_the_list_costs_the_same_for_1_or_8_reviews(
    signed_in, manager, resolve, make_item, django_assert_num_queries, n
):
    for i in range(n):
        incident = resolve("P1", title=f"Review {i}")
        tasks.ensure_review(incident.pk)
        make_item(incident=incident)
    client = signed_in(manager)
    client.get(url("list"))

    with django_assert_num_queries(LIST):
        response = client.get(url("list"))

    assert response.content.decode().count('class="pm-review-row"') == n


@pytest.mark.parametrize("n", [1, 12])
@pytest.mark.parametrize("role", ["manager", "stakeholder"])
def test_the_document_costs_the_same_for_1_or_12_rows(
    signed_in, request, manager, drafted, full_review, django_assert_num_queries, n, role
):
    full_review(n)
    if role == "stakeholder":
        move(drafted, manager, "submit", "publish")
    client = signed_in(request.getfixturevalue(role))
    client.get(url("detail", drafted))

    with django_assert_num_queries(DOCUMENT[role]):
        response = client.get(url("detail", drafted))

    page = response.content.decode()
    assert page.count('class="pm-item"') == n
    assert page.count("data-section=") == (len(SECTIONS) if role == "manager" else 0)
    assert f"Event {n - 1}" in page


@pytest.mark.parametrize("n", [1, 12])
def test_the_printable_page_costs_the_same_for_1_or_12_rows(
    signed_in, manager, drafted, full_review, django_assert_num_queries, n
):
    full_review(n)
    client = signed_in(manager)

    with django_assert_num_queries(PRINT):
        response = client.get(url("print", drafted))

    assert response.content.decode().count('class="pm-item"') == n


# --- the dashboard and the incident page ---------------------------------------------------------


def test_my_action_items_on_the_dashboard_overdue_first(
    signed_in, responder, manager, drafted, make_item, traveller
):
    later = make_item(incident=drafted, title="Later one", due_date=date(2026, 4, 1))
    overdue = make_item(incident=drafted, title="Overdue one", due_date=date(2026, 3, 1))
    done = make_item(incident=drafted, title="Done one", due_date=date(2026, 2, 1))
    action_item_update(item=done, actor=manager, source=CLI, status="done")
    make_item(incident=drafted, title="Mona's one", owner=manager)

    page = text_of(signed_in(responder).get(reverse("incidents:dashboard")))

    card = page[page.index('id="my-action-items"') :]
    assert card.index(overdue.title) < card.index(later.title)
    assert "overdue since 1 Mar 2026" in card and "due 1 Apr 2026" in card
    assert "Done one" not in card and "Mona's one" not in card
    assert f'href="{url("detail", drafted)}#action_items"' in card


def test_nothing_waiting_and_no_card_for_stakeholders(signed_in, responder, stakeholder):
    assert "No action item is waiting on you." in text_of(
        signed_in(responder).get(reverse("incidents:dashboard"))
    )
    assert "My action items" not in text_of(
        signed_in(stakeholder).get(reverse("incidents:dashboard"))
    )


def test_the_incident_page_links_the_review(signed_in, responder, stakeholder, manager, drafted):
    link = "Post-incident review: draft, due 4 Mar 2026 11:00"
    assert link in text_of(signed_in(responder).get(drafted.get_absolute_url()))
    assert "Post-incident review:" not in text_of(
        signed_in(stakeholder).get(drafted.get_absolute_url())
    )

    move(drafted, manager, "submit", "publish")

    assert "Post-incident review: published" in text_of(
        signed_in(stakeholder).get(drafted.get_absolute_url())
    )


def test_the_revenue_estimate(signed_in, responder, drafted):
    client = signed_in(responder)

    saved = client.post(url("revenue_impact", drafted), {"revenue_impact": "4200"})
    assert saved.status_code == 302
    assert str(review_of(drafted).revenue_impact) == "4200.00"
    assert "USD 4,200, estimated." in text_of(client.get(url("detail", drafted)))
    negative = client.post(url("revenue_impact", drafted), {"revenue_impact": "-3"})
    assert negative.status_code == 400 and str(review_of(drafted).revenue_impact) == "4200.00"
