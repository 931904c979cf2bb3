"""Escalation: the default ladder fires each level at its delay and stops at acknowledgement;
priority changes add or cancel levels; targets resolve to people; pages reach the timeline and
the notifications."""

import threading
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connections, transaction
from django.test import override_settings
from django.utils import timezone

from incidents import clock, services
from incidents.choices import ChangeSource, EventType
from incidents.management.commands._demo_data import ONCALL_ROTATION
from incidents.models import (
    EscalationLevel,
    EscalationPolicy,
    EscalationStep,
    IncidentEvent,
    Rotation,
    RotationMember,
    Schedule,
)
from incidents.oncall.escalation import escalation_fire_step
from itsm.choices import NotificationChannel
from itsm.models import Notification
from itsm.roles import Role
from tests.clocks import two_clocks_at_once
from tests.factories import ServiceFactory, TeamFactory, make_incident

T0 = datetime(2026, 2, 2, 14, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
LADDER_MINUTES = {1: 0, 2: 10, 3: 20, 4: 30, 5: 45}
INCIDENTS = 10


@pytest.fixture
def pages(monkeypatch):
    """The notifications escalation asks for, instead of sending them."""
    calls = []

    def notify(**kwargs):
        calls.append(kwargs)
        return []

    monkeypatch.setattr("itsm.notifications.notify", notify)
    return calls


@pytest.fixture
def people(make_user):
    names = ("alice", "bob", "carol", "eve", "dora", "vic")
    return {name: make_user(name, roles=[Role.RESPONDER]) for name in names}


def on_call_schedule(name, members, *, handoff=T0 - timedelta(days=7), length=timedelta(days=7)):
    schedule = Schedule.objects.create(slug=name.lower().replace(" ", "-"), name=name)
    rotation = Rotation.objects.create(
        schedule=schedule, name="Weekly", handoff_at=handoff, shift_length=length
    )
    for position, user in enumerate(members, start=1):
        RotationMember.objects.create(rotation=rotation, user=user, position=position)
    return schedule


@pytest.fixture
def ladder(people):
    """The default ladder of migration 0004, pointed at people: primary and secondary
    schedules, then the engineering manager, the director and the VP."""
    policy = EscalationPolicy.objects.get(is_default=True)
    levels = {level.position: level for level in policy.levels.all()}
    levels[1].target_schedules.add(on_call_schedule("Primary", [people["alice"]]))
    levels[2].target_schedules.add(on_call_schedule("Secondary", [people["bob"]]))
    levels[3].target_users.add(people["eve"])
    levels[4].target_users.add(people["dora"])
    levels[5].target_users.add(people["vic"])
    return policy


@pytest.fixture
def clock_at():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def fire_due(now=None) -> dict[int, list[str]]:
    """What the clock does on a tick: fire each pending step due by `now`, earliest first.
    Returns {level position: usernames paged}."""
    now = now or timezone.now()
    due = (
        EscalationStep.objects.filter(due_at__lte=now, fired_at=None, cancelled_at=None)
        .select_related("incident", "level")
        .order_by("due_at", "pk")
    )
    return {step.level.position: escalation_fire_step(step=step, now=now) for step in due}


def run_until(traveller, minutes: int, *, start: int = 0, at: dict | None = None) -> dict:
    """Tick every minute from `start` to `minutes` after T0, running `at[minute]()` first where
    given. Returns {level position: minute it fired}."""
    fired = {}
    for minute in range(start, minutes + 1):
        traveller.move_to(T0 + minute * MINUTE)
        if at and minute in at:
            at[minute]()
        for position in fire_due():
            fired[position] = minute
    return fired


def escalation_summaries(incident) -> list[str]:
    events = IncidentEvent.objects.filter(incident=incident, type=EventType.ESCALATION)
    return list(events.order_by("id").values_list("summary", flat=True))


def p1(actor, **kwargs):
    return make_incident(actor=actor, priority="P1", title="Checkout is down", **kwargs)


# --- the default ladder --------------------------------------------------------------------------


def test_a_p1_pages_every_level_of_the_default_ladder_at_its_delay(
    ladder, responder, clock_at, pages
):
    incident = p1(responder)

    fired = run_until(clock_at, 60)

    assert fired == LADDER_MINUTES
    assert escalation_summaries(incident) == [
        "Paged alice (level 1: Primary on-call)",
        "Paged bob (level 2: Secondary on-call)",
        "Paged eve (level 3: Engineering manager)",
        "Paged dora (level 4: Director of operations)",
        "Paged vic (level 5: VP of engineering)",
    ]
    assert [[u.username for u in call["recipients"]] for call in pages] == [
        ["alice"],
        ["bob"],
        ["eve"],
        ["dora"],
        ["vic"],
    ]


def test_a_page_names_the_incident_and_is_sent_once_per_step(ladder, responder, clock_at, pages):
    incident = p1(responder)
    step = incident.escalation_steps.get(level__position=1)

    fire_due()

    (call,) = pages
    assert call["subject"] == f"[P1] {incident.number} Checkout is down"
    assert call["link"] == f"/incidents/{incident.number}/acknowledge/"  # one button to ack
    assert call["context"] == {"incident": incident.number, "escalation_level": 1}
    assert call["dedupe_key"] == f"escalation:{step.pk}"
    assert "Primary on-call" in call["body"]


def test_a_p2_never_reaches_the_vp(ladder, responder, clock_at, pages):
    incident = make_incident(actor=responder, priority="P2")

    fired = run_until(clock_at, 120)

    assert fired == {1: 0, 2: 10, 3: 20, 4: 30}
    assert not incident.escalation_steps.filter(level__position=5).exists()
    assert "vic" not in " ".join(escalation_summaries(incident))


def test_acknowledging_at_12_minutes_stops_levels_3_to_5(
    ladder, people, responder, clock_at, pages, drive
):
    incident = p1(responder)

    fired = run_until(
        clock_at, 60, at={12: lambda: drive(incident, people["alice"], "acknowledge")}
    )

    assert fired == {1: 0, 2: 10}
    assert len(escalation_summaries(incident)) == 2
    cancelled = incident.escalation_steps.filter(cancelled_at=T0 + 12 * MINUTE)
    assert sorted(cancelled.values_list("level__position", flat=True)) == [3, 4, 5]


def test_cancelling_the_incident_stops_its_escalation(ladder, responder, clock_at, pages, drive):
    incident = p1(responder)

    fired = run_until(clock_at, 60, at={5: lambda: drive(incident, responder, "cancel")})

    assert fired == {1: 0}


def test_escalation_runs_from_the_incidents_start(ladder, responder, clock_at, pages):
    """An incident logged 15 minutes after the impact began is already past levels 1 and 2."""
    incident = p1(responder, started_at=T0 - 15 * MINUTE)

    assert sorted(fire_due()) == [1, 2]
    assert incident.escalation_steps.get(level__position=3).due_at == T0 + 5 * MINUTE


# --- priority changes ----------------------------------------------------------------------------


def change_priority(incident, actor, priority):
    return lambda: services.incident_change_priority(
        incident=incident,
        actor=actor,
        source=ChangeSource.CLI,
        priority=priority,
        reason="re-assessed",
    )


def test_raising_a_p2_to_p1_adds_the_vp_level_due_from_the_start(
    ladder, responder, manager, clock_at, pages
):
    incident = make_incident(actor=responder, priority="P2")

    fired = run_until(clock_at, 60, at={50: change_priority(incident, manager, "P1")})

    assert fired == {**LADDER_MINUTES, 5: 50}  # due at +45, so paged on the next tick
    assert incident.escalation_steps.get(level__position=5).due_at == T0 + 45 * MINUTE
    assert escalation_summaries(incident)[-1] == "Paged vic (level 5: VP of engineering)"


def test_lowering_a_p1_cancels_the_vp_level_and_raising_it_again_brings_it_back(
    ladder, responder, manager, clock_at, pages
):
    incident = p1(responder)

    lowered = run_until(clock_at, 59, at={5: change_priority(incident, manager, "P2")})
    raised = run_until(clock_at, 61, start=60, at={60: change_priority(incident, manager, "P1")})

    assert lowered == {1: 0, 2: 10, 3: 20, 4: 30}
    assert raised == {5: 60}
    assert incident.escalation_steps.count() == 5


def test_a_priority_change_after_acknowledgement_pages_nobody(
    ladder, responder, manager, clock_at, pages, drive
):
    incident = make_incident(actor=responder, priority="P2")

    fired = run_until(
        clock_at,
        60,
        at={
            1: lambda: drive(incident, responder, "acknowledge"),
            2: change_priority(incident, manager, "P1"),
        },
    )

    assert fired == {1: 0}
    assert not incident.escalation_steps.filter(fired_at=None, cancelled_at=None).exists()


# --- who is paged --------------------------------------------------------------------------------


def make_policy(*, slug="custom", repeat_count=0, delays=(0,), **targets):
    policy = EscalationPolicy.objects.create(
        slug=slug, name=slug.title(), repeat_count=repeat_count
    )
    for position, minutes in enumerate(delays, start=1):
        level = EscalationLevel.objects.create(
            policy=policy, position=position, name=f"Step {position}", delay=minutes * MINUTE
        )
        for field, values in targets.items():
            getattr(level, field).set(values)
    return policy


def test_a_level_pages_schedules_users_and_team_members_once_each(
    people, responder, clock_at, pages
):
    people["carol"].is_active = False
    people["carol"].save()
    team = TeamFactory(slug="dba")
    team.members.set([people["bob"], people["carol"], people["dora"]])
    policy = make_policy(
        target_schedules=[on_call_schedule("DBA on call", [people["alice"]])],
        target_users=[people["bob"], people["alice"]],
        target_teams=[team],
    )
    service = ServiceFactory(slug="db", escalation_policy=policy)
    incident = p1(responder, services=[service.slug])

    assert fire_due() == {1: ["alice", "bob", "dora"]}
    assert escalation_summaries(incident) == ["Paged alice, bob, dora (level 1: Step 1)"]


def test_a_schedule_is_asked_who_was_on_call_when_the_step_fell_due(
    people, responder, clock_at, pages
):
    """A clock catching up after an outage pages whoever was on call at the due time."""
    schedule = on_call_schedule(
        "Daily", [people["alice"], people["bob"]], handoff=T0, length=timedelta(days=1)
    )
    service = ServiceFactory(slug="db", escalation_policy=make_policy(target_schedules=[schedule]))
    p1(responder, services=[service.slug])

    assert fire_due(T0 + timedelta(days=1, hours=2)) == {1: ["alice"]}


def test_a_level_with_nobody_to_page_says_so_on_the_timeline(responder, clock_at, pages):
    incident = p1(responder)  # the default ladder, with no targets yet

    assert fire_due() == {1: []}
    assert escalation_summaries(incident) == [
        "Nobody to page (level 1: Primary on-call): no targets, or nobody on call"
    ]
    assert pages == []
    assert incident.escalation_steps.get(level__position=1).fired_at == T0


def test_a_step_fires_once_however_often_it_is_fired(ladder, responder, clock_at, pages):
    incident = p1(responder)
    step = incident.escalation_steps.get(level__position=1)

    first = escalation_fire_step(step=step, now=T0)
    second = escalation_fire_step(step=step, now=T0 + MINUTE)

    assert (first, second) == (["alice"], [])
    assert len(pages) == 1
    assert len(escalation_summaries(incident)) == 1


def test_a_repeating_policy_runs_the_ladder_again_after_its_last_level(
    people, responder, clock_at, pages
):
    policy = make_policy(repeat_count=1, delays=(0, 5), target_users=[people["alice"]])
    service = ServiceFactory(slug="db", escalation_policy=policy)
    incident = p1(responder, services=[service.slug])

    fired = run_until(clock_at, 60)

    assert fired == {1: 6, 2: 10}  # round 1: level 1 due at +5 (seen on the next tick), 2 at +10
    assert escalation_summaries(incident) == [
        "Paged alice (level 1: Step 1)",
        "Paged alice (level 2: Step 2)",
        "Paged alice (level 1: Step 1, repeat 1)",
        "Paged alice (level 2: Step 2, repeat 1)",
    ]
    assert incident.escalation_steps.count() == 4


# --- which policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service_policy", "team_policy", "owner_policy", "expected"),
    [
        ("service", "team", "owner", "service"),
        (None, "team", "owner", "team"),
        (None, None, "owner", "owner"),
        (None, None, None, "default"),
    ],
)
def test_the_policy_is_the_services_else_the_teams_else_the_owners_else_the_default(
    responder, service_policy, team_policy, owner_policy, expected
):
    policies = {slug: make_policy(slug=slug) for slug in ("service", "team", "owner")}
    policies["default"] = EscalationPolicy.objects.get(is_default=True)
    owner = TeamFactory(slug="owners", escalation_policy=policies.get(owner_policy))
    plain = ServiceFactory(slug="plain", owner_team=owner)
    chosen = ServiceFactory(slug="chosen", escalation_policy=policies.get(service_policy))
    team = TeamFactory(slug="assigned", escalation_policy=policies.get(team_policy))

    incident = p1(responder, services=[plain.slug, chosen.slug], team=team)

    assert {step.level.policy for step in incident.escalation_steps.all()} == {policies[expected]}


# --- with the real clock and the real notifications ---------------------------------------------


def test_the_clock_pages_through_the_notifications(ladder, responder, clock_at):
    incident = p1(responder)

    clock_at.move_to(T0 + 10 * MINUTE)
    fired = clock.tick()

    assert fired["escalation"] == 2
    mails = Notification.objects.filter(channel=NotificationChannel.EMAIL).order_by("id")
    assert [(n.recipient.username, n.subject) for n in mails] == [
        ("alice", f"[P1] {incident.number} Checkout is down"),
        ("bob", f"[P1] {incident.number} Checkout is down"),
    ]
    inbox = Notification.objects.get(recipient__username="bob", channel=NotificationChannel.IN_APP)
    assert inbox.link == f"/incidents/{incident.number}/acknowledge/"
    assert inbox.context == {"incident": incident.number, "escalation_level": 2}


# --- the demo data -------------------------------------------------------------------------------


def test_the_demo_ladder_pages_the_demo_on_call_responders(db, clock_at, pages):
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=StringIO())
    responder = Schedule.objects.get(slug="primary-on-call").rotations.get().members.first()
    incident = p1(responder)

    fire_due(T0 + 45 * MINUTE)

    paged = dict(incident.escalation_steps.values_list("level__position", "paged"))
    assert set(paged) == {1, 2, 3, 4, 5}
    assert {*paged[1], *paged[2]} <= set(ONCALL_ROTATION)
    assert len(paged[1]) == len(paged[2]) == 1 and paged[1] != paged[2]
    assert (paged[3], paged[4], paged[5]) == (["manager"], ["admin"], ["admin"])
    assert len(escalation_summaries(incident)) == 5


# --- several clocks, and a clock racing an acknowledgement (PostgreSQL) --------------------------

CONCURRENT = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.postgres
@CONCURRENT
def test_two_clocks_at_once_page_each_level_once(ladder, responder):
    incidents = [p1(responder, started_at=timezone.now() - 50 * MINUTE) for _ in range(INCIDENTS)]
    fired, errors = two_clocks_at_once("escalation", ticks=15, batch=5)

    assert errors == []
    assert sum(fired) == 5 * INCIDENTS
    for incident in incidents:
        assert len(escalation_summaries(incident)) == 5
        assert incident.escalation_steps.count() == 5
        for step in incident.escalation_steps.all():
            sent = Notification.objects.filter(dedupe_key__startswith=f"escalation:{step.pk}:")
            assert sent.count() == 2  # one person, by email and in-app


@pytest.mark.postgres
@CONCURRENT
def test_a_clock_neither_waits_for_nor_pages_after_an_acknowledgement_in_progress(
    ladder, people, responder
):
    incident = p1(responder, started_at=timezone.now() - 15 * MINUTE)
    locked, release = threading.Event(), threading.Event()

    def acknowledge():
        try:
            with transaction.atomic():
                services.incident_acknowledge(
                    incident=incident, actor=people["alice"], source=ChangeSource.CLI
                )
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=acknowledge)
    thread.start()
    assert locked.wait(10)
    began = time.monotonic()
    during = clock.tick()["escalation"]
    waited = time.monotonic() - began
    release.set()
    thread.join(10)
    after = clock.tick()["escalation"]

    assert (during, after) == (0, 0)
    assert waited < 1
    assert escalation_summaries(incident) == []
