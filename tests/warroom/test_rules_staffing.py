"""A room a rule opens starts staffed: its manager is the on-call of the rule's manager schedule,
else its fallback manager, and is paged with the room's link; its bridge is the incident's
services' (else team's) default bridge link. When nobody can be named, the timeline and every
ITSM manager say so: never silently.

The `unacknowledged` rule declares on the clock's tick 15 minutes after the incident was
logged, so the time machine decides who is on call at that moment.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents import clock
from incidents.choices import EventType
from incidents.models import IncidentEvent
from incidents.oncall.services import schedule_create
from itsm.models import Notification
from itsm.roles import Role
from tests.conftest import BASE
from tests.factories import ServiceFactory, TeamFactory, make_incident
from tests.incidents.test_admin import form_data
from warroom.models import DeclarationRule, MajorIncident

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
PAGE_SUBJECT = "You are the major incident manager"

pytestmark = pytest.mark.usefixtures("portal_base_url")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def at():
    with time_machine.travel(T0, tick=False) as traveller:
        yield lambda offset: traveller.move_to(T0 + offset)


@pytest.fixture
def alice(make_user):
    return make_user("alice", roles=[Role.ITSM_MANAGER], first_name="Alice", last_name="Ames")


@pytest.fixture
def bob(make_user):
    return make_user("bob", roles=[Role.ITSM_MANAGER], first_name="Bob", last_name="Berg")


@pytest.fixture
def mim_schedule(super_admin, alice, bob):
    """Major incident managers take turns of an hour, handing over at 10 past: Alice until
    09:10, Bob from 09:10 to 10:10."""
    return schedule_create(
        actor=super_admin,
        slug="mim",
        name="Major incident managers",
        rotations=[
            {
                "name": "Hourly",
                "layer": 1,
                "handoff_at": T0 - 50 * MINUTE,
                "shift_length": timedelta(hours=1),
                "members": [alice, bob],
            }
        ],
    )


def configure(**fields):
    DeclarationRule.objects.update(**fields)


def declare_unacknowledged_p1(at, committed, responder, **fields):
    """A P1 logged at T0 and left unacknowledged: the rule declares it on the tick at T0+15."""
    service = fields.pop("service", None) or ServiceFactory(slug="checkout", name="Checkout")
    with committed():
        incident = make_incident(
            actor=responder, services=[service.slug], impact=1, urgency=1, **fields
        )
    at(15 * MINUTE)
    with committed():
        assert clock.tick()["declaration_watches"] == 1
    return MajorIncident.objects.select_related("incident").get(incident=incident)


def warroom_actions(major) -> dict:
    events = IncidentEvent.objects.filter(incident=major.incident, type=EventType.WARROOM)
    return {event.data["action"]: event for event in events}


def test_the_on_call_of_the_manager_schedule_at_declaration_is_named_and_paged(
    at, committed, responder, mim_schedule, alice, bob, mailoutbox
):
    configure(manager_schedule=mim_schedule, manager=alice)

    major = declare_unacknowledged_p1(at, committed, responder)

    assert major.manager == bob  # on call at 09:15, when the rule declared; Alice was at 09:00
    named = warroom_actions(major)["manager_paged"]
    assert named.summary == (
        "Named Bob Berg major incident manager (on call for Major incident managers) "
        "and paged them."
    )
    paged = Notification.objects.filter(subject__contains=PAGE_SUBJECT)
    assert {(n.recipient, n.channel) for n in paged} == {(bob, "email"), (bob, "in_app")}
    assert {n.link for n in paged} == {major.get_absolute_url()}
    (mail,) = [m for m in mailoutbox if PAGE_SUBJECT in m.subject]
    assert mail.to == [bob.email]
    assert mail.subject == f"[{major.number}] {PAGE_SUBJECT}: Checkout returns 500"
    assert "P1 not acknowledged within 15 minutes" in mail.body
    assert "(on call for Major incident managers)" in mail.body
    assert f"{BASE}/warroom/{major.number}/" in mail.body


def test_with_nobody_on_call_the_fallback_manager_is_named_and_paged(
    at, committed, responder, mim_schedule, manager
):
    mim_schedule.rotations.update(ends_at=T0)
    configure(manager_schedule=mim_schedule, manager=manager)

    major = declare_unacknowledged_p1(at, committed, responder)

    assert major.manager == manager
    assert warroom_actions(major)["manager_paged"].data["reason"] == (
        "the rule's fallback manager: nobody is on call for Major incident managers"
    )
    assert Notification.objects.filter(recipient=manager, subject__contains=PAGE_SUBJECT).exists()


def test_an_on_call_who_may_not_work_in_war_rooms_is_passed_over(
    at, committed, responder, super_admin, stakeholder, manager
):
    schedule = schedule_create(
        actor=super_admin,
        slug="watchers",
        name="Watchers",
        rotations=[
            {
                "name": "Daily",
                "layer": 1,
                "handoff_at": T0 - timedelta(hours=1),
                "shift_length": timedelta(days=1),
                "members": [stakeholder],
            }
        ],
    )
    configure(manager_schedule=schedule, manager=manager)

    major = declare_unacknowledged_p1(at, committed, responder)

    assert major.manager == manager
    assert not Notification.objects.filter(
        recipient=stakeholder, subject__contains=PAGE_SUBJECT
    ).exists()


def test_the_named_user_alone_is_enough(at, committed, responder, manager):
    configure(manager=manager)

    major = declare_unacknowledged_p1(at, committed, responder)

    assert major.manager == manager
    assert warroom_actions(major)["manager_paged"].data["reason"] == (
        "the rule's fallback manager: no manager schedule is set"
    )


def test_when_nobody_can_be_named_the_room_opens_and_every_manager_is_told(
    at, committed, responder, manager, make_user
):
    other_manager = make_user("otto", roles=[Role.ITSM_MANAGER])
    configure(manager_schedule=None, manager=None)

    major = declare_unacknowledged_p1(at, committed, responder)

    assert major.manager is None
    actions = warroom_actions(major)
    assert "manager_paged" not in actions
    assert actions["manager_not_named"].summary == (
        "No major incident manager could be named: no manager schedule is set, "
        "and no fallback manager is set."
    )
    told = Notification.objects.filter(subject__contains="No major incident manager named")
    assert {n.recipient for n in told} == {manager, other_manager}
    assert "Name one in the war room." in told.first().body
    assert not Notification.objects.filter(subject__contains=PAGE_SUBJECT).exists()
    # One message each: not also "declared (manager: not named)".
    assert not Notification.objects.filter(subject__contains="Major incident declared").exists()


def test_the_named_manager_is_paged_once_and_the_other_managers_told_of_the_declaration(
    at, committed, responder, manager, make_user
):
    other_manager = make_user("otto", roles=[Role.ITSM_MANAGER])
    configure(manager_schedule=None, manager=manager)

    declare_unacknowledged_p1(at, committed, responder)

    about_the_room = Notification.objects.filter(
        recipient=manager, channel="in_app", subject__icontains="major incident"
    )
    assert [n.subject.split("] ", 1)[1] for n in about_the_room] == [
        f"{PAGE_SUBJECT}: Checkout returns 500"
    ]
    declared = Notification.objects.filter(subject__contains="Major incident declared")
    assert {n.recipient for n in declared} == {other_manager}


def test_the_affected_users_rule_names_and_pages_too(committed, responder, manager):
    configure(manager=manager)
    ServiceFactory(slug="storage", name="Storage", user_count=51)

    with committed():
        incident = make_incident(actor=responder, services=["storage"], impact=1, urgency=1)

    major = MajorIncident.objects.get(incident=incident)
    assert major.manager == manager
    assert Notification.objects.filter(recipient=manager, subject__contains=PAGE_SUBJECT).exists()


# --- the bridge --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("services", "team_link", "expected"),
    [
        # The first service by name that has a link, whatever the team's.
        (
            {"zeta": "https://meet.example.com/zeta", "alpha": "https://meet.example.com/alpha"},
            "https://meet.example.com/team",
            "https://meet.example.com/alpha",
        ),
        (
            {"alpha": "", "zeta": "https://meet.example.com/zeta"},
            "",
            "https://meet.example.com/zeta",
        ),
        ({"alpha": ""}, "https://meet.example.com/team", "https://meet.example.com/team"),
        ({"alpha": ""}, "", ""),
    ],
)
def test_the_room_starts_with_the_default_bridge_link(
    at, committed, responder, manager, services, team_link, expected
):
    configure(manager=manager)
    for slug, link in services.items():
        ServiceFactory(slug=slug, name=slug.title(), default_bridge_link=link)
    team = TeamFactory(slug="payments", default_bridge_link=team_link)
    with committed():
        incident = make_incident(
            actor=responder, services=list(services), team=team, impact=1, urgency=1
        )
    at(15 * MINUTE)
    with committed():
        clock.tick()

    major = MajorIncident.objects.get(incident=incident)
    assert major.bridge_link == expected
    page = Notification.objects.get(subject__contains=PAGE_SUBJECT, channel="in_app")
    assert f"Bridge: {expected or 'none yet: add one in the war room'}" in page.body


# --- what people see ---------------------------------------------------------------------------


def test_the_room_and_the_list_show_the_named_manager(
    at, committed, responder, mim_schedule, bob, client
):
    configure(manager_schedule=mim_schedule)
    major = declare_unacknowledged_p1(at, committed, responder)
    client.force_login(responder)

    room = client.get(major.get_absolute_url()).content.decode()
    listing = client.get(reverse("warroom:list")).content.decode()

    for page in (room, listing):
        assert '<span class="person" title="bob">Bob Berg</span>' in page
        assert "not named" not in page.lower()


def test_the_declare_form_offers_the_default_bridge_link(signed_in, manager, responder):
    ServiceFactory(slug="checkout", default_bridge_link="https://meet.example.com/checkout")
    incident = make_incident(actor=responder, services=["checkout"])

    page = signed_in(manager).get(reverse("warroom:declare", args=[incident.number]))

    assert page.context["form"]["bridge_link"].value() == "https://meet.example.com/checkout"
    assert 'value="https://meet.example.com/checkout"' in page.content.decode()


# --- configuring -------------------------------------------------------------------------------


def test_the_admin_sets_the_manager_schedule_through_the_service(signed_in, manager, mim_schedule):
    client = signed_in(manager)
    rule = DeclarationRule.objects.get(kind="unacknowledged")
    url = reverse("admin:warroom_declarationrule_change", args=[rule.pk])
    data = form_data(client.get(url))
    data.update(manager_schedule=mim_schedule.pk, manager=manager.pk)

    assert client.post(url, data).status_code == 302

    rule.refresh_from_db()
    assert (rule.manager_schedule, rule.manager) == (mim_schedule, manager)
    assert rule.history.first().history_change_reason == (
        "edit manager_schedule, manager by mona (admin)"
    )
    assert (
        "Major incident managers"
        in client.get(reverse("admin:warroom_declarationrule_changelist")).content.decode()
    )


def test_the_api_sets_the_manager_schedule(signed_in, manager, mim_schedule):
    client = signed_in(manager)

    response = client.patch(
        "/api/declaration-rules/affected_users/",
        {"manager_schedule": "mim"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["manager_schedule"] == "mim"
    assert DeclarationRule.objects.get(kind="affected_users").manager_schedule == mim_schedule


def test_an_unknown_schedule_is_refused_and_nothing_changes(signed_in, manager):
    client = signed_in(manager)

    response = client.patch(
        "/api/declaration-rules/affected_users/",
        {"manager_schedule": "nope"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["manager_schedule"]
    assert DeclarationRule.objects.get(kind="affected_users").manager_schedule is None


@pytest.mark.parametrize("link", ["javascript:alert(1)", "ftp://files.example.com/bridge"])
def test_a_default_bridge_link_is_a_web_link(db, link):
    service = ServiceFactory(slug="checkout", default_bridge_link=link)
    team = TeamFactory(slug="payments", default_bridge_link=link)

    for row in (service, team):
        with pytest.raises(ValidationError) as refused:
            row.full_clean()
        assert refused.value.message_dict == {
            "default_bridge_link": ["Enter an http:// or https:// link."]
        }
