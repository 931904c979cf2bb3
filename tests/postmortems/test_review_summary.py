"""Publishing a review sends the PIR summary (the communications' `pir_summary` template) to
IT leadership and the ITSM managers: once each, by email and in-app, with the root cause, the
action items and the review's link, recorded as a communication with its recipients and on the
timeline; nothing when the publish fails, and nothing more when it is tried again."""

from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from itsm.models import Notification
from itsm.roles import Role
from postmortems import services, tasks
from postmortems.action_items import action_item_create
from postmortems.summary import root_cause_short
from tests.conftest import BASE, api_error
from tests.postmortems.reviews import CLI
from warroom.models import LEADERSHIP_GROUP, Communication

SUBJECT = "PIR SUMMARY"


@pytest.fixture
def leader(make_user):
    user = make_user("lena")
    user.groups.add(Group.objects.get(name=LEADERSHIP_GROUP))
    return user


@pytest.fixture
def in_review(resolve, responder):
    """A resolved P1's review, with a root cause and an action item, submitted for review."""
    incident = resolve("P1", title="Checkout returns 500")
    tasks.ensure_review(incident.pk)
    review = services.review_update(
        review=incident.review,
        actor=responder,
        source=CLI,
        sections={"root_cause": "### What happened\n\nThe connection pool was exhausted."},
    )
    action_item_create(
        incident=incident,
        actor=responder,
        source=CLI,
        title="Alert on pool saturation",
        owner=responder,
        due_date=date(2026, 3, 20),
        priority="P0",
    )
    return services.review_submit(review=review, actor=responder, source=CLI)


def summaries():
    return Notification.objects.filter(subject__startswith=SUBJECT)


def url(review, transition: str) -> str:
    return f"/api/incidents/{review.incident.number}/postmortem/{transition}/"


@pytest.mark.usefixtures("portal_base_url")
def test_publishing_tells_each_leader_and_manager_once_by_email_and_in_app(
    committing, in_review, leader, manager, make_user, stakeholder, responder
):
    make_user("otto", roles=[Role.ITSM_MANAGER], is_active=False)
    both = make_user("bea", roles=[Role.ITSM_MANAGER])
    both.groups.add(Group.objects.get(name=LEADERSHIP_GROUP))

    committing(services.review_publish, review=in_review, actor=manager, source=CLI)

    number = in_review.incident.number
    sent = {(n.recipient.username, n.channel) for n in summaries()}
    assert sent == {
        (who, channel) for who in ("lena", "mona", "bea") for channel in ("email", "in_app")
    }
    assert sorted(message.to[0] for message in mail.outbox) == [
        "bea@example.org",
        "lena@example.org",
        "mona@example.org",
    ]
    assert {message.subject for message in mail.outbox} == {
        f"PIR SUMMARY - {number}: Checkout returns 500"
    }
    body = mail.outbox[0].body
    assert "Priority: P1 (Critical)" in body and "Duration: 1 h" in body
    assert "Root Cause: The connection pool was exhausted." in body
    assert "- [P0] Alert on pool saturation (owner " in body
    assert "due 2026-03-20, open)" in body
    assert f"The full review: {BASE}/postmortems/{number}/" in body
    sent_summary = Communication.objects.get(incident=in_review.incident)
    assert (sent_summary.kind, sent_summary.status, sent_summary.sent_by) == (
        "pir_summary",
        "sent",
        manager,
    )
    assert sorted(sent_summary.recipients.values_list("user__username", flat=True)) == [
        "bea",
        "lena",
        "mona",
    ]
    line = in_review.incident.events.get(type="communication")
    assert line.summary.startswith("PIR summary sent to IT leadership and ITSM manager (3 ")


def test_a_failed_or_repeated_publish_sends_nothing_more(
    api, committing, in_review, leader, manager, responder
):
    api_error(api.as_user(responder).post(url(in_review, "publish")), 403, "permission_denied")
    assert not summaries().exists()
    mona = api.as_user(manager)  # the one client, signed in as someone else

    assert committing(mona.post, url(in_review, "publish")).status_code == 200
    assert summaries().count() == 4
    assert len(mail.outbox) == 2

    again = committing(mona.post, url(in_review, "publish"))

    api_error(again, 409, "invalid_transition")
    assert summaries().count() == 4
    assert len(mail.outbox) == 2


def test_a_draft_cannot_be_published_and_nobody_hears_of_it(api, resolve, leader, manager):
    incident = resolve("P1")
    tasks.ensure_review(incident.pk)

    response = api.as_user(manager).post(url(incident.review, "publish"))

    api_error(response, 409, "invalid_transition")
    assert not summaries().exists()


@pytest.mark.parametrize(
    ("markdown", "short"),
    [
        (
            "### What happened\n\n_To be written._\n\n### Immediate cause\n\n_To be written._",
            "",
        ),
        (
            "### What happened\n\nA bad deploy.\n\n### Immediate cause\n\nNo canary.",
            "A bad deploy. No canary.",
        ),
        ("x" * 400, "x" * 299 + "…"),
    ],
)
def test_the_root_cause_is_cut_short_without_headings_or_placeholders(markdown, short):
    assert root_cause_short(markdown) == short
