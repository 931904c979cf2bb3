"""Several people editing a review's sections at once: each save is typed against a version
and merged into what others saved meanwhile (the war room scratchpad's merge), every version
is a revision row, and every open page of the review hears of it (`ws/postmortems/<NUMBER>/`)."""

import pytest

from incidents.services import actor_label
from itsm.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from postmortems import services
from postmortems.choices import ReviewStatus
from postmortems.models import PostIncidentReview, SectionRevision
from tests.concurrency import all_succeed
from tests.conftest import api_error
from tests.live_ws import close_code, listening
from tests.warroom._ws import db, in_event_loop

CLI = "cli"
ROOT = "Checkout failed because the pool ran out."


@pytest.fixture
def review(incident, responder):
    return PostIncidentReview.objects.create(
        incident=incident, owner=responder, due_at="2026-03-04T10:00Z", root_cause=ROOT
    )


def save(review, actor, base_version, text, section="root_cause"):
    return services.review_section_save(
        review=review, actor=actor, section=section, base_version=base_version, text=text
    )


def url(review, section="root_cause") -> str:
    return f"/api/incidents/{review.incident.number}/postmortem/sections/{section}/"


# --- the service ------------------------------------------------------------------------------


def test_two_edits_from_one_base_keep_both_texts(review, responder, manager):
    first = save(review, responder, 0, ROOT + " The alert came late.")
    second = save(review, manager, 0, "Since Monday: " + ROOT)

    assert (first["version"], first["merged"]) == (1, False)
    assert (second["version"], second["merged"]) == (2, True)
    expected = "Since Monday: " + ROOT + " The alert came late."
    assert second["text"] == expected
    review.refresh_from_db()
    assert review.root_cause == expected
    assert review.section_versions == {"root_cause": 2}
    rows = SectionRevision.objects.filter(review=review).order_by("version")
    assert [(r.version, r.text, r.merged) for r in rows] == [
        (0, ROOT, False),
        (1, ROOT + " The alert came late.", False),
        (2, expected, True),
    ]
    assert [r.author for r in rows] == [None, responder, manager]


def test_a_save_changing_nothing_keeps_the_version(review, responder):
    assert save(review, responder, 0, ROOT) == {
        "section": "root_cause",
        "version": 0,
        "text": ROOT,
        "merged": False,
    }
    assert not SectionRevision.objects.exists()


def test_typed_text_is_kept_exactly_spaces_included(review, responder):
    assert save(review, responder, 0, ROOT + "\n\n- ")["text"] == ROOT + "\n\n- "


@pytest.mark.parametrize(
    ("field", "section", "base", "text"),
    [
        ("section", "nonsense", 0, "x"),
        ("base_version", "root_cause", -1, "x"),
        ("base_version", "root_cause", "1", "x"),
        ("base_version", "root_cause", 7, "x"),  # no such version yet
        ("text", "root_cause", 0, None),
        ("text", "root_cause", 0, "nul\x00"),
        ("text", "root_cause", 0, "x" * 50_001),
    ],
)
def test_bad_saves_name_the_field_and_write_nothing(review, responder, field, section, base, text):
    with pytest.raises(ValidationFailed) as refused:
        save(review, responder, base, text, section=section)
    assert field in refused.value.fields
    review.refresh_from_db()
    assert (review.root_cause, review.section_versions) == (ROOT, {})
    assert not SectionRevision.objects.exists()


def test_a_published_review_takes_no_edit(review, responder):
    PostIncidentReview.objects.filter(pk=review.pk).update(status=ReviewStatus.PUBLISHED)
    with pytest.raises(InvalidTransition):
        save(review, responder, 0, "rewritten")
    review.refresh_from_db()
    assert review.root_cause == ROOT


def test_a_stakeholder_may_not_edit(review, stakeholder):
    with pytest.raises(PermissionDeniedError):
        save(review, stakeholder, 0, "rewritten")


def test_a_whole_edit_through_the_document_is_a_version_too(review, responder):
    """An edit of the whole document (PATCH) is a new version of each section it changes, so
    a live editor typing against the older one merges into it rather than undoing it."""
    services.review_update(
        review=review, actor=responder, source=CLI, sections={"root_cause": ROOT + " Twice."}
    )
    merged = save(review, responder, 0, "Why: " + ROOT)

    assert merged["text"] == "Why: " + ROOT + " Twice."
    assert merged["version"] == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_editors_saving_at_the_same_moment_keep_every_text(incident, responder, manager):
    """Four people type into one section from the same version at the same moment
    (PostgreSQL): every one's words are in the text, and each save is its own version."""
    review = PostIncidentReview.objects.create(
        incident=incident, owner=responder, due_at="2026-03-04T10:00Z", root_cause=ROOT
    )
    words = ["alpha", "bravo", "charlie", "delta"]
    editors = [responder, manager, responder, manager]
    all_succeed(
        *[
            lambda word=word, who=who: save(review, who, 0, f"{ROOT} {word}.")
            for word, who in zip(words, editors, strict=True)
        ]
    )

    review.refresh_from_db()
    assert all(word in review.root_cause for word in words), review.root_cause
    assert review.root_cause.startswith(ROOT)
    assert review.section_versions == {"root_cause": 4}
    versions = SectionRevision.objects.filter(review=review).values_list("version", flat=True)
    assert sorted(versions) == [0, 1, 2, 3, 4]


# --- the API ------------------------------------------------------------------------------------


def test_the_section_reads_and_saves_over_the_api(api, review, responder, manager):
    rita, mona = api.as_user(responder), api.as_user(manager)
    assert rita.get(url(review)).json() == {"section": "root_cause", "version": 0, "text": ROOT}

    rita.put(url(review), {"base_version": 0, "text": ROOT + " Late."}, format="json")
    answer = mona.put(url(review), {"base_version": 0, "text": "Why: " + ROOT}, format="json")

    assert answer.status_code == 200
    assert answer.json() == {
        "section": "root_cause",
        "version": 2,
        "text": "Why: " + ROOT + " Late.",
        "merged": True,
    }
    assert rita.get(f"/api/incidents/{review.incident.number}/postmortem/").json()[
        "section_versions"
    ] == {"root_cause": 2}


def test_the_section_api_refuses_bad_input(api, review, responder, stakeholder):
    rita = api.as_user(responder)
    assert rita.get(url(review, "nonsense")).status_code == 404
    fields = api_error(rita.put(url(review), {"text": "x"}, format="json"), 400, "invalid")
    assert "base_version" in fields
    fields = api_error(
        rita.put(url(review), {"base_version": 0, "text": "x", "html": "<b>"}, format="json"),
        400,
        "invalid",
    )
    assert "html" in fields
    # A stakeholder reads published reviews only: this draft is not there for them.
    assert api.as_user(stakeholder).get(url(review)).status_code == 404
    review.refresh_from_db()
    assert review.root_cause == ROOT


# --- the live page --------------------------------------------------------------------------------


def page_path(review) -> str:
    return f"/ws/postmortems/{review.incident.number}/"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("fresh_channel_layers")
@in_event_loop
async def test_every_open_page_hears_each_saved_version(responder, manager, incident):
    review = await db(PostIncidentReview.objects.create)(
        incident=incident, owner=responder, due_at="2026-03-04T10:00Z", root_cause=ROOT
    )
    async with listening(manager, page_path(review)) as page:
        assert page.snapshot["sections"]["root_cause"] == {
            "name": "root_cause",
            "version": 0,
            "text": ROOT,
            "html": f"<p>{ROOT}</p>\n",
        }
        assert page.snapshot["editable"] is True
        await db(save)(review, responder, 0, ROOT + " <script>alert(1)</script>")
        heard = await page.next("section")

    assert heard["section"]["version"] == 1
    assert heard["section"]["text"] == ROOT + " <script>alert(1)</script>"
    assert "<script>" not in heard["section"]["html"]
    assert heard["author"] == actor_label(responder)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("fresh_channel_layers")
@in_event_loop
async def test_a_page_that_reconnects_catches_up_on_what_it_missed(responder, manager, incident):
    review = await db(PostIncidentReview.objects.create)(
        incident=incident, owner=responder, due_at="2026-03-04T10:00Z", root_cause=ROOT
    )
    async with listening(manager, page_path(review)):
        pass
    await db(save)(review, responder, 0, ROOT + " Saved while away.")
    async with listening(manager, page_path(review)) as page:
        section = page.snapshot["sections"]["root_cause"]
    assert (section["version"], section["text"]) == (1, ROOT + " Saved while away.")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("fresh_channel_layers")
@in_event_loop
async def test_the_page_is_told_when_the_review_stops_taking_edits(responder, manager, incident):
    review = await db(PostIncidentReview.objects.create)(
        incident=incident, owner=responder, due_at="2026-03-04T10:00Z"
    )
    async with listening(manager, page_path(review)) as page:
        await db(services.review_submit)(review=review, actor=responder, source=CLI)
        submitted = await page.next("review")
        await db(services.review_publish)(review=review, actor=manager, source=CLI)
        published = await page.next("review")
    assert (submitted["status"], submitted["editable"]) == ("in_review", True)
    assert (published["status"], published["editable"]) == ("published", False)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("fresh_channel_layers")
@in_event_loop
async def test_who_may_open_the_live_page(responder, stakeholder, nobody, incident):
    review = await db(PostIncidentReview.objects.create)(
        incident=incident, owner=responder, due_at="2026-03-04T10:00Z"
    )
    assert await close_code(None, page_path(review)) == 4401
    assert await close_code(nobody, page_path(review)) == 4403
    # A stakeholder reads published reviews only.
    assert await close_code(stakeholder, page_path(review)) == 4404
    await db(PostIncidentReview.objects.filter(pk=review.pk).update)(status="published")
    async with listening(stakeholder, page_path(review)) as page:
        assert page.snapshot["editable"] is False
    assert await close_code(responder, "/ws/postmortems/INC9999999/") == 4404
