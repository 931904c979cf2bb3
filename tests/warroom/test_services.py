"""The war room's services: declaring and demoting, following the incident, roles, tasks, the
bridge, notes and pins, the scratchpad and presence. What a user of the room would notice: the
state, the timeline, who is told, and what is refused."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import clock
from incidents.choices import ChangeSource, EventType
from incidents.models import IncidentEvent
from itsm.choices import ChatKind, NotificationChannel
from itsm.errors import (
    ConflictError,
    InvalidTransition,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from itsm.models import ChatWebhook, Notification, OutboxItem
from itsm.roles import Role
from tests.factories import make_incident
from warroom import selectors, services
from warroom.models import (
    SCRATCHPAD_MAX_LENGTH,
    MajorIncident,
    Presence,
    RoleAssignment,
    ScratchpadRevision,
)

CLI = ChangeSource.CLI
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ray(make_user):
    """A second responder."""
    return make_user("ray", roles=[Role.RESPONDER])


def fresh(major: MajorIncident) -> MajorIncident:
    return MajorIncident.objects.select_related("incident").get(pk=major.pk)


def warroom_events(incident) -> list[IncidentEvent]:
    return list(incident.events.filter(type=EventType.WARROOM).order_by("pk"))


def last_summary(incident) -> str:
    return warroom_events(incident)[-1].summary


def in_app(subject_part: str) -> set[str]:
    """Who got an in-app notification whose subject holds `subject_part`."""
    rows = Notification.objects.filter(
        channel=NotificationChannel.IN_APP, subject__contains=subject_part
    )
    return {row.recipient.username for row in rows}


def footprint(incident) -> tuple[int, int, int]:
    return MajorIncident.objects.count(), incident.events.count(), Notification.objects.count()


def fields_of(excinfo) -> set[str]:
    return set(excinfo.value.fields)


# --- declaring --------------------------------------------------------------------------------


def test_a_manager_declares_a_major_incident(p1, declare, manager, responder, make_user):
    other_manager = make_user("max", roles=[Role.ITSM_MANAGER])
    make_user("stella", roles=[Role.STAKEHOLDER])

    major = declare(p1, manager=responder, bridge_link="https://meet.example.com/war")

    major = fresh(major)
    assert major.state == "active"
    assert major.declared_by == manager
    assert major.manager == responder
    assert major.bridge_link == "https://meet.example.com/war"
    assert major.initial_impact_statement == "Checkout fails for every customer"
    assert major.get_absolute_url() == f"/warroom/{p1.number}/"
    [event] = warroom_events(p1)
    assert event.summary == "Declared a major incident. Impact: Checkout fails for every customer"
    assert event.actor == manager
    assert event.data["manager"] == "rita"
    # the major incident manager and every ITSM manager are told, nobody else
    told = in_app("Major incident declared")
    assert told == {"rita", "mona", other_manager.username}
    note = Notification.objects.filter(recipient=responder, channel="in_app").get()
    assert note.subject == f"[{p1.number}] Major incident declared: {p1.title}"
    assert note.link == f"/warroom/{p1.number}/"
    assert "Bridge: https://meet.example.com/war" in note.body


def test_declaring_copies_the_chat_channels_of_the_incidents_team(declare, responder, team):
    slack = ChatWebhook.objects.create(
        slug="ops", name="#ops", kind=ChatKind.SLACK, url_env="SLACK_WEBHOOK_S"
    )
    teams = ChatWebhook.objects.create(
        slug="mim", name="MIM", kind=ChatKind.TEAMS, url_env="TEAMS_WEBHOOK_T"
    )
    ChatWebhook.objects.create(
        slug="other", name="#other", kind=ChatKind.SLACK, url_env="SLACK_WEBHOOK_O"
    )
    team.chat_webhooks.set([slack, teams])
    incident = make_incident(actor=responder, team=team, impact=1, urgency=1)

    major = declare(incident)

    assert set(major.chat_webhooks.all()) == {slack, teams}


def test_a_responder_may_not_declare_and_nothing_is_written(p1, declare, responder):
    before = footprint(p1)

    with pytest.raises(PermissionDeniedError):
        declare(p1, actor=responder)

    assert footprint(p1) == before


@pytest.mark.parametrize("who", ["stakeholder", "nobody", "inactive"])
def test_the_manager_must_be_active_staff(request, p1, declare, make_user, who):
    if who == "inactive":
        person = make_user("gone", roles=[Role.RESPONDER], is_active=False)
    else:
        person = request.getfixturevalue(who)

    with pytest.raises(ValidationFailed) as excinfo:
        declare(p1, manager=person)

    assert fields_of(excinfo) == {"major_incident_manager"}
    assert not MajorIncident.objects.exists()


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"bridge_link": "meet.example.com/abc"}, "bridge_link"),
        ({"bridge_link": "ftp://meet.example.com/abc"}, "bridge_link"),
        ({"bridge_link": "https://"}, "bridge_link"),
        ({"bridge_link": "https://meet.example.com/" + "x" * 500}, "bridge_link"),
        ({"initial_impact_statement": ""}, "initial_impact_statement"),
        ({"initial_impact_statement": "   \n "}, "initial_impact_statement"),
        ({"initial_impact_statement": None}, "initial_impact_statement"),
        ({"initial_impact_statement": "x" * 2001}, "initial_impact_statement"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_written(p1, declare, fields, bad):
    before = footprint(p1)

    with pytest.raises(ValidationFailed) as excinfo:
        declare(p1, **fields)

    assert fields_of(excinfo) == {bad}
    assert footprint(p1) == before


def test_every_bad_field_is_named_at_once(p1, declare, stakeholder):
    with pytest.raises(ValidationFailed) as excinfo:
        declare(p1, manager=stakeholder, bridge_link="nope", initial_impact_statement="")

    assert fields_of(excinfo) == {
        "major_incident_manager",
        "bridge_link",
        "initial_impact_statement",
    }


def test_a_bridge_link_is_optional(p1, declare):
    assert declare(p1, bridge_link="").bridge_link == ""


def test_a_second_declaration_is_a_conflict(p1, declare, major):
    before = footprint(p1)

    with pytest.raises(ConflictError, match="already a major incident"):
        declare(p1)

    assert footprint(p1) == before


@pytest.mark.parametrize(
    "path",
    [
        ("acknowledge", "start", "resolve"),
        ("acknowledge", "start", "resolve", "close"),
        ("cancel",),
    ],
    ids=["resolved", "closed", "cancelled"],
)
def test_an_incident_no_longer_open_cannot_be_declared(p1, declare, responder, drive, path):
    drive(p1, responder, *path)

    with pytest.raises(ConflictError):
        declare(p1)

    assert not MajorIncident.objects.exists()


# --- demoting and declaring again -------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_demoting_needs_a_reason(major, manager, reason):
    with pytest.raises(ValidationFailed) as excinfo:
        services.major_incident_demote(major=major, actor=manager, source=CLI, reason=reason)

    assert fields_of(excinfo) == {"reason"}
    assert fresh(major).state == "active"


def test_a_responder_may_not_demote(major, responder):
    with pytest.raises(PermissionDeniedError):
        services.major_incident_demote(major=major, actor=responder, source=CLI, reason="meh")

    assert fresh(major).state == "active"


def test_demoting_with_a_reason(major, manager, make_user):
    make_user("max", roles=[Role.ITSM_MANAGER])

    services.major_incident_demote(
        major=major, actor=manager, source=CLI, reason="Only one customer affected"
    )

    major = fresh(major)
    assert major.state == "demoted"
    assert major.demotion_reason == "Only one customer affected"
    assert major.demoted_by == manager
    assert major.demoted_at is not None
    assert last_summary(major.incident) == "Demoted: Only one customer affected"
    assert in_app("Major incident demoted") == {"mona", "max"}
    with pytest.raises(InvalidTransition):
        services.major_incident_demote(major=major, actor=manager, source=CLI, reason="again")


def test_declaring_a_demoted_incident_again_reopens_the_same_room(p1, major, manager, declare):
    services.task_create(major=major, actor=manager, source=CLI, title="Check the logs")
    services.major_incident_demote(major=major, actor=manager, source=CLI, reason="false alarm")

    again = declare(p1, initial_impact_statement="It is back, and worse")

    again = fresh(again)
    assert again.pk == major.pk
    assert MajorIncident.objects.count() == 1
    assert again.state == "active"
    assert again.initial_impact_statement == "It is back, and worse"
    assert (again.demotion_reason, again.demoted_at, again.demoted_by) == ("", None, None)
    assert [t.title for t in again.tasks.all()] == ["Check the logs"]  # the room is the same
    assert last_summary(p1) == "Declared a major incident. Impact: It is back, and worse"


def test_the_field_history_says_why_each_change_was_made(p1, major, manager, declare):
    services.major_incident_demote(major=major, actor=manager, source=CLI, reason="false alarm")
    declare(p1)

    reasons = [row.history_change_reason for row in major.history.order_by("history_id")]
    assert reasons == [
        "declare by mona (cli)",
        "demote by mona (cli)",
        "declare again by mona (cli)",
    ]
    assert {row.history_user for row in major.history.all()} == {manager}


# --- following the incident -------------------------------------------------------------------


def test_the_major_incident_follows_its_incident(p1, major, responder, drive, committing):
    committing(drive, p1, responder, "acknowledge", "start")
    assert fresh(major).state == "active"

    committing(drive, p1, responder, "resolve")
    assert fresh(major).state == "resolved"
    assert fresh(major).resolved_at is not None

    committing(drive, p1, responder, "reopen")
    assert fresh(major).state == "active"
    assert fresh(major).resolved_at is None

    committing(drive, p1, responder, "resolve", "close")
    major = fresh(major)
    assert major.state == "closed"
    assert major.closed_at is not None
    summaries = [event.summary for event in warroom_events(p1)]
    assert summaries[1:] == [
        "Major incident resolved with its incident",
        "Major incident active with its incident",
        "Major incident resolved with its incident",
        "Major incident closed with its incident",
    ]
    reasons = [row.history_change_reason for row in major.history.order_by("history_id")]
    assert reasons[1:] == [
        "resolve by system (job)",
        "reopen by system (job)",
        "resolve by system (job)",
        "close by system (job)",
    ]


def test_a_follow_that_fails_is_carried_out_on_retry_once(
    p1, major, responder, drive, committing, monkeypatch
):
    """Following is recorded in the outbox by the transition's transaction: a first attempt
    that fails leaves the room active, and the clock's retry resolves it, once."""
    committing(drive, p1, responder, "acknowledge", "start")
    follow = services.major_incident_follow
    failures = [RuntimeError("lock timeout")]

    def flaky(**kwargs):
        if failures:
            raise failures.pop()
        return follow(**kwargs)

    monkeypatch.setattr(services, "major_incident_follow", flaky)
    committing(drive, p1, responder, "resolve")
    assert fresh(major).state == "active"
    item = OutboxItem.objects.filter(kind="warroom.follow_incident").latest("pk")
    assert (item.status, item.attempts) == ("pending", 1)

    for _ in range(2):  # after the back-off; again: nothing more
        with time_machine.travel(item.due_at + timedelta(minutes=1)):
            committing(clock.tick)

    assert fresh(major).state == "resolved"
    followed = [e.summary for e in warroom_events(p1) if "with its incident" in e.summary]
    assert followed == ["Major incident resolved with its incident"]
    assert OutboxItem.objects.get(pk=item.pk).status == "done"


def test_cancelling_the_incident_closes_the_major_incident(p1, major, responder, drive, committing):
    committing(drive, p1, responder, "acknowledge", "cancel")

    assert fresh(major).state == "closed"


def test_a_demoted_major_incident_is_not_revived_by_its_incident(
    p1, major, manager, responder, drive, committing
):
    services.major_incident_demote(major=major, actor=manager, source=CLI, reason="false alarm")

    committing(drive, p1, responder, "acknowledge", "start", "resolve", "reopen")

    assert fresh(major).state == "demoted"


def test_an_ordinary_incident_has_nothing_to_follow(incident, responder, drive, committing):
    committing(drive, incident, responder, "acknowledge", "start", "resolve")

    assert not MajorIncident.objects.exists()


# --- roles ------------------------------------------------------------------------------------


def assign(major, actor, role, user):
    return services.role_assign(major=major, actor=actor, source=CLI, role=role, user=user)


def holders(major, role) -> list[str]:
    rows = selectors.current_roles(major).filter(role=role)
    return sorted(row.user.username for row in rows)


def test_assigning_a_role(major, manager, responder):
    row = assign(major, manager, "incident_commander", responder)

    assert (row.user, row.assigned_by, row.ended_at) == (responder, manager, None)
    assert holders(major, "incident_commander") == ["rita"]
    assert last_summary(major.incident) == "rita is now incident commander"
    assert in_app("You are now incident commander") == {"rita"}


def test_handing_a_role_over(major, manager, responder, ray):
    first = assign(major, manager, "incident_commander", responder)

    second = assign(major, responder, "incident_commander", ray)

    first.refresh_from_db()
    assert first.ended_at == second.assigned_at
    assert first.ended_by == responder
    assert holders(major, "incident_commander") == ["ray"]
    assert last_summary(major.incident) == ("ray is now incident commander (handed over from rita)")
    assert warroom_events(major.incident)[-1].data["previous"] == "rita"
    assert in_app("You are now incident commander") == {"rita", "ray"}


def test_experts_may_be_many(major, manager, responder, ray):
    assign(major, manager, "sme", responder)
    assign(major, manager, "sme", ray)

    assert holders(major, "sme") == ["ray", "rita"]
    assert RoleAssignment.objects.filter(ended_at__isnull=False).count() == 0


@pytest.mark.parametrize("role", ["sme", "scribe"])
def test_assigning_the_same_person_twice_changes_nothing(major, manager, responder, role):
    first = assign(major, manager, role, responder)
    before = (major.incident.events.count(), Notification.objects.count())

    again = assign(major, manager, role, responder)

    assert again.pk == first.pk
    assert RoleAssignment.objects.count() == 1
    assert (major.incident.events.count(), Notification.objects.count()) == before


def test_one_person_may_hold_several_roles(major, manager, responder):
    assign(major, manager, "incident_commander", responder)
    assign(major, manager, "scribe", responder)

    assert holders(major, "incident_commander") == holders(major, "scribe") == ["rita"]


def test_releasing_a_role(major, manager, responder):
    row = assign(major, manager, "technical_lead", responder)

    services.role_release(major=major, actor=manager, source=CLI, assignment_id=str(row.pk))

    assert holders(major, "technical_lead") == []
    row.refresh_from_db()
    assert row.ended_by == manager
    assert last_summary(major.incident) == "rita is no longer technical lead"
    with pytest.raises(NotFoundError):  # released already
        services.role_release(major=major, actor=manager, source=CLI, assignment_id=row.pk)


@pytest.mark.parametrize("assignment_id", [None, "abc", 10**30, 999999])
def test_releasing_an_unknown_role_holder_is_not_found(major, manager, assignment_id):
    with pytest.raises(NotFoundError):
        services.role_release(major=major, actor=manager, source=CLI, assignment_id=assignment_id)


def test_a_bad_role_or_holder_is_named(major, manager, responder, stakeholder):
    with pytest.raises(ValidationFailed) as excinfo:
        assign(major, manager, "janitor", responder)
    assert fields_of(excinfo) == {"role"}

    for person in (stakeholder, None):
        with pytest.raises(ValidationFailed) as excinfo:
            assign(major, manager, "scribe", person)
        assert fields_of(excinfo) == {"user"}
    assert not RoleAssignment.objects.exists()


def test_a_stakeholder_may_watch_but_not_assign(major, stakeholder, responder):
    with pytest.raises(PermissionDeniedError):
        assign(major, stakeholder, "scribe", responder)


# --- tasks ------------------------------------------------------------------------------------


def update_task(major, actor, task, **changes):
    return services.task_update(major=major, actor=actor, source=CLI, task_id=task.pk, **changes)


def test_a_task_through_its_life(major, manager, responder, ray):
    task = services.task_create(
        major=major, actor=manager, source=CLI, title="  Roll back 4.2  ", assignee=responder
    )
    assert (task.title, task.assignee, task.done, task.created_by) == (
        "Roll back 4.2",
        responder,
        False,
        manager,
    )
    assert last_summary(major.incident) == "Task added for rita: Roll back 4.2"
    assert in_app("War-room task for you: Roll back 4.2") == {"rita"}

    update_task(major, manager, task, assignee=ray)
    assert last_summary(major.incident) == "Task reassigned to ray: Roll back 4.2"
    assert in_app("War-room task for you") == {"rita", "ray"}

    with time_machine.travel(T0, tick=False):
        task = update_task(major, ray, task, done=True)
    assert (task.done, task.done_at, task.done_by) == (True, T0, ray)
    assert last_summary(major.incident) == "Task done: Roll back 4.2"

    task = update_task(major, ray, task, done=False)
    assert (task.done, task.done_at, task.done_by) == (False, None, None)
    assert last_summary(major.incident) == "Task reopened: Roll back 4.2"
    assert [row["title"] for row in selectors.tasks_payload(major)] == ["Roll back 4.2"]


def test_a_task_update_that_changes_nothing_writes_nothing(major, manager):
    task = services.task_create(major=major, actor=manager, source=CLI, title="Page vendor")
    before = major.incident.events.count()

    update_task(major, manager, task, title="Page vendor", done=False, assignee=None)

    assert major.incident.events.count() == before


def test_bad_task_fields_are_named(major, manager, stakeholder):
    with pytest.raises(ValidationFailed) as excinfo:
        services.task_create(
            major=major, actor=manager, source=CLI, title=" ", assignee=stakeholder
        )
    assert fields_of(excinfo) == {"title", "assignee"}

    task = services.task_create(major=major, actor=manager, source=CLI, title="Page vendor")
    with pytest.raises(ValidationFailed) as excinfo:
        update_task(major, manager, task, title="x" * 201, done="yes")
    assert fields_of(excinfo) == {"title", "done"}


def test_a_task_of_another_room_is_not_found(major, manager, responder, service, declare):
    other = declare(make_incident(actor=responder, services=[service.slug], impact=1, urgency=1))
    task = services.task_create(major=other, actor=manager, source=CLI, title="Elsewhere")

    with pytest.raises(NotFoundError):
        update_task(major, manager, task, done=True)


# --- the bridge -------------------------------------------------------------------------------


def test_joining_the_bridge_twice_is_one_stay(major, responder):
    first = services.bridge_join(major=major, actor=responder, source=CLI)
    again = services.bridge_join(major=major, actor=responder, source=CLI)

    assert again.pk == first.pk
    [attendee] = selectors.bridge_payload(major)["attendees"]
    assert attendee["user"]["username"] == "rita"
    assert attendee["left_at"] is None
    assert [e.summary for e in warroom_events(major.incident)][-1:] == ["rita joined the bridge"]


def test_leaving_the_bridge(major, responder):
    services.bridge_join(major=major, actor=responder, source=CLI)

    stay = services.bridge_leave(major=major, actor=responder, source=CLI)

    assert stay.left_at is not None
    assert last_summary(major.incident) == "rita left the bridge"
    assert services.bridge_leave(major=major, actor=responder, source=CLI) is None
    services.bridge_join(major=major, actor=responder, source=CLI)  # a second stay
    assert len(selectors.bridge_payload(major)["attendees"]) == 2


# --- notes and pins ---------------------------------------------------------------------------


def test_a_note_from_the_war_room_is_on_the_incidents_timeline(major, responder):
    event = services.note_add(major=major, actor=responder, source=CLI, text="DB failover done")

    assert (event.incident, event.type, event.summary) == (
        major.incident,
        "note",
        "DB failover done",
    )


def test_pinning_and_unpinning_an_event(major, responder):
    event = services.note_add(major=major, actor=responder, source=CLI, text="Root cause: DNS")

    services.event_pin(major=major, actor=responder, event_id=str(event.pk), pinned=True)
    assert [e["id"] for e in selectors.timeline_payload(major)["pinned"]] == [event.pk]

    services.event_pin(major=major, actor=responder, event_id=event.pk, pinned=False)
    assert selectors.timeline_payload(major)["pinned"] == []


def test_pinning_needs_a_boolean_and_an_event_of_this_incident(major, responder, incident):
    event = services.note_add(major=major, actor=responder, source=CLI, text="Root cause: DNS")
    elsewhere = incident.events.first()

    with pytest.raises(ValidationFailed) as excinfo:
        services.event_pin(major=major, actor=responder, event_id=event.pk, pinned="yes")
    assert fields_of(excinfo) == {"pinned"}
    for event_id in (elsewhere.pk, "x", None, 999999):
        with pytest.raises(NotFoundError):
            services.event_pin(major=major, actor=responder, event_id=event_id, pinned=True)


def test_a_stakeholder_may_not_write_a_note_or_pin(major, stakeholder):
    before = major.incident.events.count()

    with pytest.raises(PermissionDeniedError):
        services.note_add(major=major, actor=stakeholder, source=CLI, text="hello")
    with pytest.raises(PermissionDeniedError):
        services.event_pin(
            major=major, actor=stakeholder, event_id=major.incident.events.first().pk, pinned=True
        )

    assert major.incident.events.count() == before
    assert selectors.timeline_payload(major)["pinned"] == []


# --- the room's manager and bridge link -------------------------------------------------------


def test_anyone_working_the_room_may_change_the_bridge_link(major, responder):
    services.major_incident_update(
        major=major, actor=responder, source=CLI, bridge_link="https://meet.example.com/new"
    )

    assert fresh(major).bridge_link == "https://meet.example.com/new"
    assert last_summary(major.incident) == "Bridge is now https://meet.example.com/new"
    with pytest.raises(ValidationFailed) as excinfo:
        services.major_incident_update(major=major, actor=responder, source=CLI, bridge_link="x")
    assert fields_of(excinfo) == {"bridge_link"}


def test_only_a_manager_may_change_the_major_incident_manager(major, manager, responder):
    with pytest.raises(PermissionDeniedError):
        services.major_incident_update(major=major, actor=responder, source=CLI, manager=responder)

    services.major_incident_update(major=major, actor=manager, source=CLI, manager=responder)

    assert fresh(major).manager == responder
    assert last_summary(major.incident) == "Manager is now rita"


# --- the scratchpad ---------------------------------------------------------------------------


def save(major, actor, base_version, text):
    return services.scratchpad_update(
        major=major, actor=actor, base_version=base_version, text=text
    )


def revisions(major) -> list[tuple[int, str, bool]]:
    rows = ScratchpadRevision.objects.filter(major_incident=major).order_by("version")
    return [(row.version, row.text, row.merged) for row in rows]


def test_sequential_edits_make_versions_and_revisions(major, manager, responder):
    assert save(major, manager, 0, "Status:") == {"version": 1, "text": "Status:", "merged": False}
    assert save(major, responder, 1, "Status: red") == {
        "version": 2,
        "text": "Status: red",
        "merged": False,
    }

    assert revisions(major) == [(1, "Status:", False), (2, "Status: red", False)]
    assert selectors.scratchpad_payload(fresh(major)) == {"version": 2, "text": "Status: red"}
    authors = ScratchpadRevision.objects.order_by("version").values_list(
        "author__username", flat=True
    )
    assert list(authors) == ["mona", "rita"]


def test_two_edits_from_the_same_base_are_merged(major, manager, responder):
    save(major, manager, 0, "Checkout is down")
    save(major, manager, 1, "Checkout is down since 09:10")

    result = save(major, responder, 1, "Checkout is down for EU")

    assert result == {"version": 3, "text": "Checkout is down since 09:10 for EU", "merged": True}
    assert revisions(major)[-1] == (3, "Checkout is down since 09:10 for EU", True)
    assert fresh(major).scratchpad == "Checkout is down since 09:10 for EU"


def test_an_edit_against_an_old_version_merges_everything_since(major, manager, responder):
    save(major, manager, 0, "a")
    save(major, manager, 1, "a b")
    save(major, manager, 2, "a b c")

    assert save(major, responder, 1, "z a")["text"] == "z a b c"


@pytest.mark.parametrize("base_version", [2, -1, "1", 1.0, None, True])
def test_a_bad_base_version_is_named(major, manager, base_version):
    save(major, manager, 0, "Status:")

    with pytest.raises(ValidationFailed) as excinfo:
        save(major, manager, base_version, "Status: green")

    assert fields_of(excinfo) == {"base_version"}
    assert fresh(major).scratchpad_version == 1


@pytest.mark.parametrize("text", ["x" * (SCRATCHPAD_MAX_LENGTH + 1), None, 42, ["a"], "nul\x00"])
def test_bad_text_is_named(major, manager, text):
    with pytest.raises(ValidationFailed) as excinfo:
        save(major, manager, 0, text)

    assert fields_of(excinfo) == {"text"}
    assert fresh(major).scratchpad_version == 0


def test_a_merge_longer_than_the_limit_is_refused(major, manager, responder):
    half = SCRATCHPAD_MAX_LENGTH // 2 + 10
    save(major, manager, 0, "a" * half)

    with pytest.raises(ValidationFailed) as excinfo:
        save(major, responder, 0, "b" * half)

    assert fields_of(excinfo) == {"text"}
    assert fresh(major).scratchpad == "a" * half


def test_the_longest_text_is_accepted(major, manager):
    assert save(major, manager, 0, "x" * SCRATCHPAD_MAX_LENGTH)["version"] == 1


def test_unchanged_text_makes_no_version(major, manager, responder):
    save(major, manager, 0, "Status: red")

    assert save(major, manager, 1, "Status: red") == {
        "version": 1,
        "text": "Status: red",
        "merged": False,
    }
    assert save(major, responder, 0, "") == {"version": 1, "text": "Status: red", "merged": False}
    assert len(revisions(major)) == 1


def test_keystrokes_leave_no_field_history(major, manager):
    before = (major.history.count(), major.incident.events.count())

    for n in range(1, 6):
        save(major, manager, n - 1, "typing" + "." * n)

    assert (major.history.count(), major.incident.events.count()) == before  # nor any event
    assert len(revisions(major)) == 5


def test_a_stakeholder_may_not_edit_the_scratchpad(major, stakeholder):
    with pytest.raises(PermissionDeniedError):
        save(major, stakeholder, 0, "hello")


# --- a room that is closed or demoted takes no writes -----------------------------------------


WRITES = {
    "update": lambda room, who, task, row: services.major_incident_update(
        major=room, actor=who, source=CLI, bridge_link="https://meet.example.com/new"
    ),
    "role_assign": lambda room, who, task, row: assign(room, who, "scribe", who),
    "role_release": lambda room, who, task, row: services.role_release(
        major=room, actor=who, source=CLI, assignment_id=row.pk
    ),
    "task_create": lambda room, who, task, row: services.task_create(
        major=room, actor=who, source=CLI, title="Late task"
    ),
    "task_update": lambda room, who, task, row: update_task(room, who, task, done=True),
    "scratchpad": lambda room, who, task, row: save(room, who, 0, "late words"),
    "bridge_join": lambda room, who, task, row: services.bridge_join(
        major=room, actor=who, source=CLI
    ),
    "note": lambda room, who, task, row: services.note_add(
        major=room, actor=who, source=CLI, text="late note"
    ),
    "pin": lambda room, who, task, row: services.event_pin(
        major=room, actor=who, event_id=room.incident.events.first().pk, pinned=True
    ),
}


@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("end", ["demoted", "closed"])
def test_a_room_that_ended_takes_no_writes(
    p1, major, manager, responder, drive, committing, end, write
):
    task = services.task_create(major=major, actor=manager, source=CLI, title="Check logs")
    row = assign(major, manager, "technical_lead", responder)
    if end == "demoted":
        services.major_incident_demote(major=major, actor=manager, source=CLI, reason="no")
    else:
        committing(drive, p1, responder, "cancel")
    assert fresh(major).state == end
    before = (p1.events.count(), Notification.objects.count(), fresh(major).scratchpad_version)

    with pytest.raises(InvalidTransition) as excinfo:
        WRITES[write](major, manager, task, row)

    assert excinfo.value.status == 409
    assert (p1.events.count(), Notification.objects.count(), fresh(major).scratchpad_version) == (
        before
    )


def test_a_resolved_room_still_takes_writes(p1, major, manager, responder, drive, committing):
    committing(drive, p1, responder, "acknowledge", "start", "resolve")
    assert fresh(major).state == "resolved"

    services.task_create(major=major, actor=manager, source=CLI, title="Write the review")
    save(major, manager, 0, "Follow-ups:")
    services.note_add(major=major, actor=manager, source=CLI, text="All green")

    assert [task["title"] for task in selectors.tasks_payload(major)] == ["Write the review"]
    assert selectors.scratchpad_payload(fresh(major)) == {"version": 1, "text": "Follow-ups:"}
    assert p1.events.order_by("pk").last().summary == "All green"


def test_leaving_the_bridge_of_a_room_that_ended_is_recorded(major, manager):
    services.bridge_join(major=major, actor=manager, source=CLI)
    services.major_incident_demote(major=major, actor=manager, source=CLI, reason="no")

    services.bridge_leave(major=major, actor=manager, source=CLI)

    [stay] = selectors.bridge_payload(major)["attendees"]
    assert stay["left_at"] is not None
    assert last_summary(major.incident) == "mona left the bridge"


# --- presence ---------------------------------------------------------------------------------


def present(major) -> list[str]:
    return [person["username"] for person in selectors.present_users(major)]


def test_presence_enter_and_leave(major, responder, manager):
    services.presence_enter(major=major, user=responder, channel_name="tab-1")
    services.presence_enter(major=major, user=responder, channel_name="tab-2")
    services.presence_enter(major=major, user=manager, channel_name="tab-3")
    assert present(major) == ["rita", "mona"]  # each person once, in order of arrival

    services.presence_leave(major=major, channel_name="tab-1")
    assert present(major) == ["rita", "mona"]  # still in another tab
    services.presence_leave(major=major, channel_name="tab-2")
    assert present(major) == ["mona"]


def test_a_page_not_heard_from_is_gone_after_the_timeout(major, responder, manager):
    timeout = selectors.PRESENCE_TIMEOUT
    with time_machine.travel(T0, tick=False) as clock:
        services.presence_enter(major=major, user=responder, channel_name="quiet")
        services.presence_enter(major=major, user=manager, channel_name="pinging")

        clock.shift(timeout - timedelta(seconds=10))
        services.presence_touch(channel_name="pinging")
        assert present(major) == ["rita", "mona"]

        clock.shift(timedelta(seconds=11))  # rita's page died: no ping for longer than the timeout
        assert present(major) == ["mona"]
        assert Presence.objects.filter(channel_name="quiet").exists()

        services.presence_enter(major=major, user=manager, channel_name="another")
        assert not Presence.objects.filter(channel_name="quiet").exists()  # swept on a join
        assert present(major) == ["mona"]
