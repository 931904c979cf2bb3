"""Communications drafted from an incident, edited as a draft, then sent once to their audience:
who received what, the timeline event, the stakeholder-update timer restarted, and who may do
what (responders draft, the incident commander, communications lead and managers send)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from incidents.choices import ChangeSource, EventType, SlaKind
from itsm.errors import ConflictError, PermissionDeniedError, ValidationFailed
from itsm.models import Notification
from tests.factories import TeamFactory
from warroom.communications import services
from warroom.models import Audience, Communication, CommunicationTemplate, StatusUpdate

CLI = ChangeSource.CLI


def draft(incident, kind, actor):
    return services.communication_draft(incident=incident, kind=kind, actor=actor, source=CLI)


def send(communication, actor):
    return services.communication_send(communication=communication, actor=actor, source=CLI)


def test_a_responder_drafts_from_the_incidents_current_state(commanded, responder):
    communication = draft(commanded, "initial", responder)
    assert communication.subject == f"INCIDENT ALERT - Checkout ({commanded.number})"
    assert "Impact: Checkout fails for every customer\n" in communication.body
    assert "Next Update: 2026-03-02 09:30 UTC\n" in communication.body
    assert communication.audience.name == "IT leadership and affected department heads"
    assert (communication.status, communication.template_version) == ("draft", 1)


def test_a_draft_records_the_template_version_it_used(commanded, responder, manager):
    services.template_update(
        template=CommunicationTemplate.objects.get(kind="update"),
        actor=manager,
        source=CLI,
        subject_template="{{ number }} update",
        body_template="Now {{ status|lower }}.",
    )
    communication = draft(commanded, "update", responder)
    assert (communication.template_version, communication.subject) == (
        2,
        f"{commanded.number} update",
    )


def test_an_unknown_kind_is_a_400_naming_the_template(commanded, responder):
    with pytest.raises(ValidationFailed) as caught:
        draft(commanded, "gossip", responder)
    assert list(caught.value.fields) == ["template"]
    assert not Communication.objects.exists()


def test_stakeholders_read_but_do_not_draft(commanded, stakeholder):
    with pytest.raises(PermissionDeniedError):
        draft(commanded, "initial", stakeholder)


def test_a_draft_is_edited_until_it_is_sent(commanded, responder):
    communication = draft(commanded, "update", responder)
    edited = services.communication_update(
        communication=communication, actor=responder, source=CLI, body="Payments are back."
    )
    assert (edited.body, edited.subject) == ("Payments are back.", communication.subject)
    with pytest.raises(ValidationFailed) as caught:
        services.communication_update(communication=edited, actor=responder, source=CLI, subject="")
    assert list(caught.value.fields) == ["subject"]
    send(edited, responder)  # the incident commander
    with pytest.raises(ConflictError):
        services.communication_update(communication=edited, actor=responder, source=CLI, body="x")


@pytest.fixture
def department_head(make_user, service):
    head = make_user("dora", email="dora@example.org")
    service.owner_team = TeamFactory(slug="shop", name="Shop")
    service.owner_team.members.add(head)
    service.save()
    return head


def test_sending_reaches_the_audience_and_records_who_received_what(
    commanded, responder, it_leader, department_head, slack, django_capture_on_commit_callbacks
):
    audience = Audience.objects.get(name="IT leadership and affected department heads")
    audience.emails = ["cfo@example.org"]
    audience.save()
    audience.chat_webhooks.add(slack)
    communication = draft(commanded, "initial", responder)
    with django_capture_on_commit_callbacks(execute=True):
        send(communication, responder)

    communication.refresh_from_db()
    assert (communication.status, communication.sent_by) == ("sent", responder)
    received = {(r.kind, r.address) for r in communication.recipients.all()}
    assert received == {
        ("person", "stella@example.org"),
        ("person", "dora@example.org"),
        ("chat", "#ops"),
        ("email", "cfo@example.org"),
    }
    notified = set(
        Notification.objects.filter(
            dedupe_key__startswith=f"communication:{communication.pk}:"
        ).values_list("recipient__username", "channel")
    )
    assert notified == {
        ("stella", "email"),
        ("stella", "in_app"),
        ("dora", "email"),
        ("dora", "in_app"),
        (None, "slack"),
        (None, "email"),  # cfo@example.org: a row like any other, retried if a send fails
    }
    assert sorted(m.to[0] for m in mail.outbox if m.subject == communication.subject) == [
        "cfo@example.org",
        "dora@example.org",
        "stella@example.org",
    ]
    event = commanded.events.get(type=EventType.COMMUNICATION)
    assert event.summary == (
        "Initial notification sent to IT leadership and affected department heads "
        f"(4 recipients): {communication.subject}"
    )
    assert (event.actor, event.public) == (responder, False)


def test_a_notice_to_all_stakeholders_is_a_public_event(commanded, responder, stakeholder):
    send(draft(commanded, "resolution", responder), responder)
    assert commanded.events.get(type=EventType.COMMUNICATION).public is True


def test_sending_restarts_the_stakeholder_update_timer(commanded, responder, time_machine):
    timer = commanded.sla_timers.get(kind=SlaKind.UPDATE)
    assert timer.target_at.strftime("%H:%M") == "09:30"
    time_machine.shift(timedelta(minutes=20))
    send(draft(commanded, "update", responder), responder)
    timer.refresh_from_db()
    assert timer.target_at.strftime("%H:%M") == "09:50"
    assert draft(commanded, "update", responder).body.count("No change since the last update.")


def test_sending_twice_is_a_409(commanded, responder):
    communication = send(draft(commanded, "update", responder), responder)
    with pytest.raises(ConflictError):
        send(communication, responder)
    assert commanded.events.filter(type=EventType.COMMUNICATION).count() == 1


def test_the_status_page_kind_posts_a_public_update(commanded, responder):
    communication = draft(commanded, "status_page", responder)
    send(communication, responder)
    update = StatusUpdate.objects.get()
    assert (update.status, update.body) == ("investigating", communication.body.strip())
    assert update.body.startswith("We are aware of an issue affecting Checkout and are working")
    assert [r.kind for r in communication.recipients.all()] == ["status_page"]


@pytest.mark.parametrize(
    ("who", "sends"),
    [("responder", True), ("manager", True), ("other_responder", False), ("stakeholder", False)],
)
def test_who_sends(who, sends, commanded, responder, request, make_user):
    if who == "other_responder":
        actor = make_user("otto", roles=["responder"])
    else:
        actor = request.getfixturevalue(who)
    communication = draft(commanded, "update", responder)
    if sends:
        assert send(communication, actor).status == "sent"
    else:
        with pytest.raises(PermissionDeniedError):
            send(communication, actor)


def test_the_admin_shows_who_received_a_sent_communication(
    commanded, responder, it_leader, signed_in, manager
):
    communication = send(draft(commanded, "update", responder), responder)
    client = signed_in(manager)
    page = client.get(
        reverse("admin:warroom_communication_change", args=[communication.pk])
    ).content.decode()
    assert "stella@example.org" in page
    assert "Status update" in page
    listing = client.get(reverse("admin:warroom_audience_changelist")).content.decode()
    assert "IT leadership and ITSM manager" in listing
