"""Automatic declaration (SPEC §4): a P1 not acknowledged within 15 minutes, on the SLA clock and
on time; a P1 whose services reach more than 50 users through the dependency graph.

The rules act in receivers of the incident core's signals, inside the write's transaction: the
declaration watch is armed there; the affected-users check is recorded in the outbox and run
by the worker once the write commits. Each step of a test runs in `committed()`, which runs
its on-commit work (the worker's wake-up) as a real commit would.
"""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.models import F

from incidents import clock
from incidents import services as incident_services
from incidents.choices import ChangeSource, EventType
from incidents.models import IncidentEvent
from itsm import outbox
from itsm.models import Notification, OutboxItem
from itsm.notifications import PERSON_CHANNELS
from itsm.roles import Role
from tests.clocks import two_clocks_at_once
from tests.factories import ServiceFactory, make_incident
from warroom import rules as rules_module
from warroom import services
from warroom.choices import DeclarationTrigger, MajorIncidentState, RuleKind
from warroom.models import DeclarationRule, DeclarationWatch, MajorIncident

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def rules(manager):
    """The two rules the migration installs, naming `manager` as major incident manager."""
    DeclarationRule.objects.update(manager=manager)
    return {rule.kind: rule for rule in DeclarationRule.objects.all()}


@pytest.fixture
def at():
    with time_machine.travel(T0, tick=False) as traveller:
        yield lambda offset: traveller.move_to(T0 + offset)


def declared_events(incident):
    return IncidentEvent.objects.filter(
        incident=incident, type=EventType.WARROOM, data__action="declared"
    )


def is_major(incident) -> bool:
    return MajorIncident.objects.filter(incident=incident).exists()


# --- not acknowledged within 15 minutes ---------------------------------------------------------


@pytest.fixture
def new_incident(committed, responder, service, rules, at):
    """`new_incident(impact=, urgency=)`: an unacknowledged incident logged at T0."""

    def make(**fields):
        fields.setdefault("impact", 1)
        fields.setdefault("urgency", 1)
        with committed():
            return make_incident(
                actor=responder, services=[service.slug], assignee=responder, **fields
            )

    return make


def tick_at(at, offset) -> dict:
    at(offset)
    return clock.tick()


def test_a_p1_left_unacknowledged_is_declared_at_fifteen_minutes_not_before(
    new_incident, at, manager, make_user
):
    other_manager = make_user("otto", roles=[Role.ITSM_MANAGER], is_staff=True)
    incident = new_incident()

    assert tick_at(at, 15 * MINUTE - timedelta(seconds=1))["declaration_watches"] == 0
    assert not is_major(incident)

    assert tick_at(at, 15 * MINUTE)["declaration_watches"] == 1
    major = MajorIncident.objects.get(incident=incident)
    assert major.state == MajorIncidentState.ACTIVE
    assert major.trigger == DeclarationTrigger.UNACKNOWLEDGED
    assert major.trigger_detail == "P1 not acknowledged within 15 minutes"
    assert major.declared_by is None
    assert major.declared_at == T0 + 15 * MINUTE
    assert major.manager == manager
    assert "not been acknowledged 15 minutes after it became P1" in (major.initial_impact_statement)
    (event,) = declared_events(incident)
    assert event.actor is None
    assert event.source == ChangeSource.JOB
    assert "P1 not acknowledged within 15 minutes" in event.summary
    told = Notification.objects.filter(subject__contains="Major incident declared")
    assert {n.recipient for n in told} == {other_manager}  # the manager is paged instead
    paged = Notification.objects.filter(subject__contains="You are the major incident manager")
    assert {n.recipient for n in paged} == {manager}


def test_a_p1_logged_while_the_worker_cannot_be_woken_is_still_declared_on_time(
    new_incident, at, monkeypatch, committed
):
    """The broker refuses every wake-up of the create's transaction: the watch was written in
    it, so the P1 is declared at fifteen minutes; the affected-users check waits in the
    outbox, and the next tick has the worker run it, once."""

    def broker_down(*args):
        raise ConnectionError("broker down")

    with monkeypatch.context() as patched:
        patched.setattr(outbox, "async_task", broker_down)
        incident = new_incident()
    assert DeclarationWatch.objects.get(incident=incident).priority == "P1"
    check = OutboxItem.objects.get(kind="warroom.affected_users")
    assert (check.status, check.payload) == ("pending", {"incident_id": incident.pk})

    with committed():
        assert tick_at(at, MINUTE)["outbox"] == 1
    assert OutboxItem.objects.get(pk=check.pk).status == "done"
    assert not is_major(incident)  # few users: the check ran and declared nothing

    assert tick_at(at, 15 * MINUTE)["declaration_watches"] == 1
    major = MajorIncident.objects.get(incident=incident)
    assert major.trigger == DeclarationTrigger.UNACKNOWLEDGED
    assert declared_events(incident).count() == 1


def test_an_affected_users_check_that_fails_declares_on_retry_once(
    graph, log_incident, monkeypatch, at, committed
):
    graph(portal_users=11)
    failures = [RuntimeError("the graph query timed out")]
    check = rules_module.check_affected_users

    def flaky(**kwargs):
        if failures:
            raise failures.pop()
        return check(**kwargs)

    monkeypatch.setattr(rules_module, "check_affected_users", flaky)
    incident = log_incident(["storage"])
    assert not is_major(incident)

    with committed():
        tick_at(at, outbox.BACKOFF[0])
    with committed():
        tick_at(at, outbox.BACKOFF[0] + outbox.LEASE + MINUTE)

    assert MajorIncident.objects.get(incident=incident).trigger == DeclarationTrigger.AFFECTED_USERS
    assert declared_events(incident).count() == 1
    assert OutboxItem.objects.get(kind="warroom.affected_users").attempts == 2


@pytest.mark.parametrize("transition", ["acknowledge", "cancel"])
def test_an_incident_acknowledged_or_cancelled_in_time_is_never_declared(
    new_incident, at, committed, drive, responder, transition
):
    incident = new_incident()
    at(10 * MINUTE)
    with committed():
        drive(incident, responder, transition)

    for minutes in (15, 60, 24 * 60):
        assert tick_at(at, minutes * MINUTE)["declaration_watches"] == 0
    assert not is_major(incident)
    assert DeclarationWatch.objects.get(incident=incident).cancelled_at == T0 + 10 * MINUTE


def test_a_p2_is_never_declared(new_incident, at):
    incident = new_incident(urgency=2)

    assert incident.priority == "P2"
    for minutes in (15, 60, 24 * 60):
        tick_at(at, minutes * MINUTE)
    assert not is_major(incident)


def test_the_affected_users_check_is_queued_for_the_rule_s_priority_only(
    new_incident, manager, committed
):
    """The rule looks at P1s: a P2 queues no check for the worker, until it is raised to P1."""

    def checks(incident):
        return OutboxItem.objects.filter(
            kind="warroom.affected_users", payload={"incident_id": incident.pk}
        ).count()

    p1, p2 = new_incident(), new_incident(urgency=2)
    assert (checks(p1), checks(p2)) == (1, 0)

    change_priority(committed, p2, manager, "P1")
    assert checks(p2) == 1


def change_priority(committed, incident, manager, priority):
    with committed():
        incident_services.incident_change_priority(
            incident=incident,
            actor=manager,
            source=ChangeSource.CLI,
            priority=priority,
            reason="customer impact reassessed",
        )


def test_raised_to_p1_later_it_counts_from_the_change(new_incident, at, committed, manager):
    incident = new_incident(urgency=2)
    at(20 * MINUTE)
    change_priority(committed, incident, manager, "P1")

    assert tick_at(at, 15 * MINUTE + 20 * MINUTE - timedelta(seconds=1))["declaration_watches"] == 0
    assert not is_major(incident)
    assert tick_at(at, 35 * MINUTE)["declaration_watches"] == 1
    assert MajorIncident.objects.get(incident=incident).declared_at == T0 + 35 * MINUTE


def test_lowered_then_raised_again_counts_from_the_last_raise(new_incident, at, committed, manager):
    incident = new_incident()
    at(5 * MINUTE)
    change_priority(committed, incident, manager, "P2")
    assert tick_at(at, 15 * MINUTE)["declaration_watches"] == 0
    at(30 * MINUTE)
    change_priority(committed, incident, manager, "P1")

    assert tick_at(at, 45 * MINUTE - timedelta(seconds=1))["declaration_watches"] == 0
    assert tick_at(at, 45 * MINUTE)["declaration_watches"] == 1
    assert is_major(incident)


def test_the_watch_moves_with_the_priority_in_the_change_s_transaction(
    new_incident, at, manager, django_capture_on_commit_callbacks
):
    """Lowered at 14:59 and the clock ticks at 15:00 before anything the change left for after
    its commit has run: the watch already counts the P2 from the change, so nothing fires."""
    incident = new_incident()
    at(15 * MINUTE - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=False):
        incident_services.incident_change_priority(
            incident=incident, actor=manager, source=ChangeSource.CLI, priority="P2", reason="x"
        )
    assert tick_at(at, 15 * MINUTE)["declaration_watches"] == 0

    watch = DeclarationWatch.objects.get(incident=incident)
    assert (watch.priority, watch.since, watch.cancelled_at) == (
        "P2",
        T0 + 15 * MINUTE - timedelta(seconds=1),
        None,
    )
    assert not is_major(incident)


def test_a_disabled_rule_never_declares(new_incident, at, rules):
    DeclarationRule.objects.filter(kind=RuleKind.UNACKNOWLEDGED).update(enabled=False)
    incident = new_incident()

    for minutes in (15, 60, 24 * 60):
        assert tick_at(at, minutes * MINUTE)["declaration_watches"] == 0
    assert not is_major(incident)


def test_a_threshold_edited_in_the_admin_applies_to_incidents_already_waiting(
    new_incident, at, rules
):
    incident = new_incident()
    at(MINUTE)
    rule = rules[RuleKind.UNACKNOWLEDGED]
    rule.threshold = 5
    rule.save()

    assert tick_at(at, 5 * MINUTE - timedelta(seconds=1))["declaration_watches"] == 0
    assert tick_at(at, 5 * MINUTE)["declaration_watches"] == 1
    assert MajorIncident.objects.get(incident=incident).trigger_detail == (
        "P1 not acknowledged within 5 minutes"
    )


def test_ticking_twice_declares_once(new_incident, at, manager):
    incident = new_incident()

    assert tick_at(at, 15 * MINUTE)["declaration_watches"] == 1
    assert clock.tick()["declaration_watches"] == 0
    assert tick_at(at, 16 * MINUTE)["declaration_watches"] == 0

    assert MajorIncident.objects.filter(incident=incident).count() == 1
    assert declared_events(incident).count() == 1
    paged = Notification.objects.filter(recipient=manager, subject__contains="You are the major")
    assert paged.count() == len(PERSON_CHANNELS)


def test_an_incident_already_major_is_left_alone_and_its_watch_is_done(
    new_incident, at, declare, manager
):
    incident = new_incident()
    at(5 * MINUTE)
    major = declare(incident)
    services.major_incident_demote(
        major=major, actor=manager, source=ChangeSource.CLI, reason="one customer only"
    )

    assert tick_at(at, 15 * MINUTE)["declaration_watches"] == 1  # cancelled, not declared
    major.refresh_from_db()
    assert major.state == MajorIncidentState.DEMOTED
    assert declared_events(incident).count() == 1
    assert DeclarationWatch.objects.get(incident=incident).cancelled_at == T0 + 15 * MINUTE
    assert tick_at(at, 30 * MINUTE)["declaration_watches"] == 0


def test_the_clock_wakes_for_the_next_watch(new_incident, at):
    incident = new_incident()
    incident.sla_timers.all().delete()
    incident.escalation_steps.all().delete()
    Notification.objects.all().delete()

    at(15 * MINUTE - timedelta(milliseconds=300))
    assert clock.seconds_until_next_due(after=T0 + 15 * MINUTE - timedelta(milliseconds=300)) == (
        pytest.approx(0.3)
    )


# --- more than 50 affected users ---------------------------------------------------------------


@pytest.fixture
def graph(db):
    """storage (20 users) ← api (20) ← portal (10, or `portal_users`): portal depends on api,
    which depends on storage; 50 users in all. `lonely` (10) has nothing to do with them."""

    def make(portal_users=10):
        storage = ServiceFactory(slug="storage", name="Storage", user_count=20)
        api = ServiceFactory(slug="api", user_count=20)
        api.depends_on.add(storage)
        ServiceFactory(slug="portal", user_count=portal_users).depends_on.add(api)
        ServiceFactory(slug="lonely", user_count=10)

    return make


@pytest.fixture
def log_incident(committed, responder, rules):
    def make(services, **fields):
        fields.setdefault("impact", 1)
        fields.setdefault("urgency", 1)
        with committed():
            return make_incident(actor=responder, services=services, **fields)

    return make


def test_a_p1_reaching_51_users_through_the_graph_is_declared_when_logged(
    graph, log_incident, manager
):
    graph(portal_users=11)

    incident = log_incident(["storage"])

    major = MajorIncident.objects.get(incident=incident)
    assert major.trigger == DeclarationTrigger.AFFECTED_USERS
    assert major.trigger_detail == "P1 with more than 50 affected users"
    assert major.declared_by is None
    assert major.manager == manager
    assert major.initial_impact_statement == (
        "51 users affected through Storage and the services that depend on it."
    )
    assert declared_events(incident).count() == 1


def test_exactly_50_users_is_not_more_than_50(graph, log_incident):
    graph(portal_users=10)
    assert not is_major(log_incident(["storage"]))


def test_a_p2_reaching_many_users_waits_until_it_becomes_p1(
    graph, log_incident, committed, manager
):
    graph(portal_users=500)
    incident = log_incident(["storage"], urgency=2)
    assert not is_major(incident)

    change_priority(committed, incident, manager, "P1")

    assert MajorIncident.objects.get(incident=incident).trigger == DeclarationTrigger.AFFECTED_USERS


def test_services_added_later_that_cross_the_threshold_declare_it(
    graph, log_incident, committed, responder
):
    graph(portal_users=10)
    incident = log_incident(["lonely"])
    assert not is_major(incident)

    with committed():
        incident_services.incident_update(
            incident=incident, actor=responder, source=ChangeSource.CLI, services=["lonely", "api"]
        )
    assert not is_major(incident)  # 10 + 20 + 10
    with committed():
        incident_services.incident_update(
            incident=incident,
            actor=responder,
            source=ChangeSource.CLI,
            services=["lonely", "storage"],
        )

    major = MajorIncident.objects.get(incident=incident)
    assert major.initial_impact_statement == (
        "60 users affected through Lonely, Storage and the services that depend on them."
    )


def test_a_demoted_major_incident_is_not_declared_again_by_a_rule(
    graph, log_incident, committed, manager, responder
):
    graph(portal_users=100)
    incident = log_incident(["storage"])
    with committed():
        services.major_incident_demote(
            major=incident.major_incident,
            actor=manager,
            source=ChangeSource.CLI,
            reason="the portal has its own fallback",
        )

    with committed():
        incident_services.incident_update(
            incident=incident, actor=responder, source=ChangeSource.CLI, services=["portal", "api"]
        )
    change_priority(committed, incident, manager, "P2")
    change_priority(committed, incident, manager, "P1")

    incident.major_incident.refresh_from_db()
    assert incident.major_incident.state == MajorIncidentState.DEMOTED
    assert declared_events(incident).count() == 1


def test_the_statement_names_ten_services_and_counts_the_rest(log_incident):
    slugs = [ServiceFactory(slug=f"s{i:02d}", user_count=5).slug for i in range(12)]

    incident = log_incident(slugs)

    names = ", ".join(f"S{i:02d}" for i in range(10))
    assert MajorIncident.objects.get(incident=incident).initial_impact_statement == (
        f"60 users affected through {names}, 2 more and the services that depend on them."
    )


def test_a_disabled_affected_users_rule_declares_nothing(graph, log_incident):
    DeclarationRule.objects.filter(kind=RuleKind.AFFECTED_USERS).update(enabled=False)
    graph(portal_users=1000)
    assert not is_major(log_incident(["storage"]))


# --- several clocks at once (PostgreSQL) ---------------------------------------------------------

OVERDUE = 12


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_clocks_at_once_declare_each_incident_once(responder, service, manager, caplog):
    DeclarationRule.objects.update(manager=manager)
    incidents = [
        make_incident(actor=responder, services=[service.slug], impact=1, urgency=1, title=f"#{i}")
        for i in range(OVERDUE)
    ]
    DeclarationWatch.objects.update(since=F("since") - 20 * MINUTE)
    with caplog.at_level(logging.INFO, logger="incidents.clock"):
        fired, errors = two_clocks_at_once("declaration_watches", ticks=10, batch=2)

    assert errors == []
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum(fired) == OVERDUE
    assert MajorIncident.objects.count() == OVERDUE
    for incident in incidents:
        assert declared_events(incident).count() == 1
    assert not DeclarationWatch.objects.filter(fired_at__isnull=True).exists()
