"""The status page update drafted on each state change of a public incident (one on the status
page): one draft per change that changes its public status, with the incident's facts; earlier
unsent drafts superseded; none for an incident not on the page; once however often the job
runs; posted by itself (page, JSON, subscribers) where the template says so; and a failure
never undoes the transition."""

import logging

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from incidents import services as incident_services
from incidents.choices import ChangeSource, EventType
from incidents.signals import incident_transitioned
from itsm import outbox
from itsm.errors import ConflictError, ValidationFailed
from itsm.models import OutboxItem
from tests.concurrency import all_succeed
from tests.incidents.test_admin import form_data
from tests.warroom.status_fixtures import post
from warroom import tasks
from warroom.communications import services
from warroom.models import Communication, CommunicationTemplate, StatusUpdate
from warroom.status import subscriptions

CLI = ChangeSource.CLI
INVESTIGATING = "We are aware of an issue affecting Checkout and are working on it."
MONITORING = "A fix has been implemented and we are monitoring the results."
RESOLVED = "This incident has been resolved."
FIELDS = {
    "mitigate": {"note": "Rolled back to 4.2"},
    "resolve": {"resolution_code": "rollback", "resolution_notes": "Rolled back."},
    "reopen": {"reason": "Errors are back"},
    "hold": {"reason": "Waiting for the vendor"},
}


@pytest.fixture
def change(committing, responder):
    """Run transitions of an incident, as its commander, and what their commits queue."""

    def run(incident, *names):
        for name in names:
            committing(
                incident_services.incident_transition,
                incident=incident,
                name=name,
                actor=responder,
                source=CLI,
                **FIELDS.get(name, {}),
            )
        incident.refresh_from_db()

    return run


@pytest.fixture
def public(commanded, manager, change, committing):
    """`commanded`, being investigated and on the status page."""
    change(commanded, "acknowledge", "start")
    committing(post, commanded, manager, "investigating", "We are looking into it.")
    return commanded


def drafts(incident) -> list[tuple[str, str]]:
    """The system's drafts, oldest first: (status, first line)."""
    rows = Communication.objects.filter(incident=incident, drafted_on__isnull=False)
    return [(c.status, c.body.splitlines()[0]) for c in rows.order_by("created_at", "id")]


def test_each_public_state_change_drafts_one_update_and_supersedes_the_last(public, change):
    change(public, "mitigate")
    draft = Communication.objects.get(drafted_on__isnull=False)
    assert (draft.kind, draft.status, draft.created_by, draft.subject) == (
        "status_page",
        "draft",
        None,
        "Checkout returns 500",
    )
    assert draft.drafted_on == public.events.filter(type=EventType.TRANSITION).latest("id")
    assert draft.body == (
        f"{MONITORING}\n\nCheckout fails for every customer\n\nNext update: 2026-03-02 09:30 UTC.\n"
    )
    assert draft.audience.name == "All users (via status page)"

    change(public, "resolve")
    assert drafts(public) == [("superseded", MONITORING), ("draft", RESOLVED)]
    assert StatusUpdate.objects.count() == 1  # nothing posted: a person posts drafts


def test_a_person_sends_the_latest_draft_and_cannot_send_a_superseded_one(
    public, change, responder
):
    change(public, "mitigate", "resolve")
    stale, latest = Communication.objects.filter(drafted_on__isnull=False).order_by("id")
    with pytest.raises(ConflictError, match="superseded"):
        services.communication_send(communication=stale, actor=responder, source=CLI)
    services.communication_send(communication=latest, actor=responder, source=CLI)
    update = StatusUpdate.objects.latest("id")
    assert (update.status, update.author, update.body.splitlines()[0]) == (
        "resolved",
        responder,
        RESOLVED,
    )

    change(public, "reopen")  # the page says resolved: the incident is back
    assert drafts(public) == [
        ("superseded", MONITORING),
        ("sent", RESOLVED),
        ("draft", INVESTIGATING),
    ]


def test_a_change_back_to_what_the_page_says_only_supersedes(public, change):
    change(public, "mitigate", "resolve", "reopen")  # nothing posted: the page still investigates
    assert drafts(public) == [("superseded", MONITORING), ("superseded", RESOLVED)]


def test_changes_that_keep_the_public_status_draft_nothing(public, change):
    change(public, "hold", "resume")
    assert drafts(public) == []
    change(public, "mitigate", "resolve")
    assert len(drafts(public)) == 2


def test_an_incident_not_on_the_status_page_gets_no_draft(commanded, change):
    change(commanded, "acknowledge", "start", "mitigate", "resolve")
    assert not Communication.objects.exists()


def test_a_state_the_page_already_shows_is_not_drafted_again(public, change, manager, committing):
    committing(post, public, manager, "monitoring", "A fix is rolling out.")
    change(public, "mitigate")
    assert drafts(public) == []
    change(public, "resolve")
    assert drafts(public) == [("draft", RESOLVED)]


def test_a_cancelled_public_incident_is_drafted_resolved(commanded, change, manager, committing):
    committing(post, commanded, manager, "investigating", "We are looking into it.")
    change(commanded, "acknowledge")
    committing(
        incident_services.incident_cancel,
        incident=commanded,
        actor=manager,
        source=CLI,
        reason="A monitoring glitch",
    )
    assert drafts(commanded) == [("draft", RESOLVED)]


def test_the_job_run_again_or_late_drafts_nothing_more(public, change, responder):
    change(public, "mitigate")
    mitigated = public.events.filter(type=EventType.TRANSITION).latest("id")
    assert tasks.draft_status_page_update(mitigated.pk) is None
    incident_transitioned.send(
        sender=type(public),
        incident_id=public.pk,
        transition="mitigate",
        from_status="investigating",
        to_status="mitigated",
        event_id=mitigated.pk,
    )
    assert drafts(public) == [("draft", MONITORING)]

    change(public, "resolve")
    assert tasks.draft_status_page_update(mitigated.pk) is None  # late: the page moved on
    assert drafts(public) == [("superseded", MONITORING), ("draft", RESOLVED)]
    # Not a transition: nothing.
    note = incident_services.incident_add_note(
        incident=public, actor=responder, source=CLI, text="x"
    )
    assert tasks.draft_status_page_update(note.pk) is None


def set_auto_post(kind: str, actor) -> CommunicationTemplate:
    """Turn `auto_post` on, the texts unchanged."""
    template = CommunicationTemplate.objects.get(kind=kind)
    return services.template_update(
        template=template,
        actor=actor,
        source=CLI,
        subject_template=template.subject_template,
        body_template=template.body_template,
        auto_post=True,
    )


@pytest.fixture
def auto_post(manager):
    return set_auto_post("status_page", manager)


@pytest.fixture
def subscriber(db):
    subscriber = subscriptions.subscriber_subscribe(email="ann@example.com")
    subscriptions.subscriber_confirm(subscriber=subscriber)
    mail.outbox.clear()
    return subscriber


def test_a_template_that_posts_by_itself_posts_on_the_page_and_tells_subscribers(
    auto_post, subscriber, public, change, client, portal_base_url
):
    assert (auto_post.auto_post, auto_post.version) == (True, 2)  # not a new text version
    change(public, "mitigate")

    sent = Communication.objects.get(drafted_on__isnull=False)
    assert (sent.status, sent.created_by, sent.sent_by) == ("sent", None, None)
    assert [r.kind for r in sent.recipients.all()] == ["status_page"]
    update = StatusUpdate.objects.latest("id")
    assert (update.status, update.author, update.body) == ("monitoring", None, sent.body.strip())

    page = client.get("/status/").content.decode()
    assert MONITORING in page
    [incident] = client.get("/status/api/v2/incidents.json").json()["incidents"]
    assert incident["status"] == "monitoring"
    assert [u["status"] for u in incident["incident_updates"]] == ["monitoring", "investigating"]
    assert incident["incident_updates"][0]["body"].startswith(MONITORING)

    first, email = [m for m in mail.outbox if m.to == ["ann@example.com"]]
    assert "We are looking into it." in first.body  # the person's update before it
    assert email.subject == f"[{settings.STATUS_PAGE_NAME}] Checkout returns 500: Monitoring"
    assert MONITORING in email.body and "Unsubscribe with one click" in email.body
    event = public.events.filter(type=EventType.COMMUNICATION).latest("id")
    assert event.summary.startswith("Status page update sent to All users (via status page)")
    assert event.actor is None


def test_a_failed_draft_never_undoes_the_transition_and_is_drafted_on_retry(
    public, change, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("the template store is down")

    monkeypatch.setattr(services, "status_page_draft_on_state_change", broken)
    with caplog.at_level(logging.WARNING):
        change(public, "mitigate")
    assert public.status == "mitigated"
    assert not Communication.objects.exists()
    assert "the template store is down" in caplog.text
    item = OutboxItem.objects.get(kind="warroom.status_page_draft")
    assert (item.status, item.attempts) == ("pending", 1)

    monkeypatch.undo()
    assert outbox.outbox_item_run(pk=item.pk, attempt=1) == "done"
    assert outbox.outbox_item_run(pk=item.pk, attempt=1) is None  # run again: nothing more
    assert drafts(public) == [("draft", MONITORING)]


def test_a_failed_automatic_post_leaves_the_draft_for_a_person(
    auto_post, public, change, monkeypatch, caplog
):
    def refuse(**kwargs):
        raise ValidationFailed.for_fields({"body": "Too long."})

    monkeypatch.setattr(services, "status_update_post", refuse)
    with caplog.at_level(logging.ERROR):
        change(public, "mitigate")
    assert drafts(public) == [("draft", MONITORING)]
    assert not Communication.objects.get().recipients.exists()
    assert StatusUpdate.objects.count() == 1
    assert f"Could not post {public.number}'s status page update by itself" in caplog.text


def test_only_the_status_page_update_posts_by_itself(manager):
    with pytest.raises(ValidationFailed) as caught:
        set_auto_post("update", manager)
    assert list(caught.value.fields) == ["auto_post"]
    assert CommunicationTemplate.objects.get(kind="update").auto_post is False


def test_a_manager_ticks_auto_post_in_the_admin(signed_in, manager):
    client = signed_in(manager)
    template = CommunicationTemplate.objects.get(kind="status_page")
    url = reverse("admin:warroom_communicationtemplate_change", args=[template.pk])
    response = client.post(url, form_data(client.get(url)) | {"auto_post": "on"})
    assert response.status_code == 302, response.content
    template.refresh_from_db()
    assert (template.auto_post, template.version) == (True, 2)
    assert template.history.latest().history_change_reason == "posts by itself by mona (admin)"
    other = CommunicationTemplate.objects.get(kind="update")
    page = client.get(reverse("admin:warroom_communicationtemplate_change", args=[other.pk]))
    assert 'name="auto_post"' not in page.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_jobs_of_one_change_at_once_draft_once(incident, manager, responder):
    for name in ("acknowledge", "start", "mitigate"):
        incident_services.incident_transition(
            incident=incident, name=name, actor=responder, source=CLI, **FIELDS.get(name, {})
        )
    # Published after the change, so the job its commit ran found nothing to draft.
    post(incident, manager, "investigating", "We are looking into it.")
    event = incident.events.filter(type=EventType.TRANSITION).latest("id")
    assert not Communication.objects.exists()
    outcomes = all_succeed(*[lambda: tasks.draft_status_page_update(event.pk)] * 4)
    assert len([pk for pk in outcomes if pk is not None]) == 1
    assert Communication.objects.filter(drafted_on=event).count() == 1
