"""Fixtures of the review and action-item tests."""

from datetime import date

import pytest
import time_machine

from itsm.roles import Role
from postmortems.action_items import action_item_create
from tests.factories import make_incident
from tests.postmortems.metrics_data import build
from tests.postmortems.reviews import T0, at, resolved_incident
from warroom import services as warroom_services
from warroom.choices import WarRoomRole

CLI = "cli"


@pytest.fixture
def make_item(manager, incident, responder):
    """`make_item(**fields)`: an action item created through the service (by the manager, on
    `incident`, owned by the responder, due 2026-03-10 unless told)."""

    def make(**fields):
        fields = {
            "incident": incident,
            "actor": manager,
            "source": CLI,
            "title": "Alert on checkout error rate",
            "owner": responder,
            "due_date": date(2026, 3, 10),
            **fields,
        }
        return action_item_create(**fields)

    return make


@pytest.fixture
def traveller(db):
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def march(db, drive, responder):
    """The hand-built month of the metrics tests (metrics_data.build), clock left at April."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield build(traveller, drive, responder)


@pytest.fixture
def resolve(traveller, drive, responder):
    """`resolve("P1")`: a P1 opened at T0 and resolved an hour later."""

    def run(priority, **kwargs):
        return resolved_incident(
            traveller, drive, responder, priority=priority, resolve_at=at(hours=1), **kwargs
        )

    return run


# --- major incidents with a staffed war room (role follow-ups, review meetings) ---------------


@pytest.fixture
def crew(make_user):
    """role → the people who hold it: a commander, a scribe, two experts, a communications
    lead (all responders)."""
    people = {
        name: make_user(name, roles=[Role.RESPONDER], first_name=name.title())
        for name in ("ivan", "sid", "eve", "ed", "cora")
    }
    return {
        WarRoomRole.INCIDENT_COMMANDER: [people["ivan"]],
        WarRoomRole.SCRIBE: [people["sid"]],
        WarRoomRole.SME: [people["eve"], people["ed"]],
        WarRoomRole.COMMUNICATIONS_LEAD: [people["cora"]],
    }


@pytest.fixture
def fight_major(traveller, drive, manager, crew):
    """`fight_major(resolve_at)`: a P1 opened now, declared major (manager mona, who owns its
    review), staffed with `crew`, and resolved at `resolve_at`."""

    def fight(resolve_at, *, title="Checkout returns 500"):
        incident = make_incident(actor=manager, priority="P1", assignee=manager, title=title)
        major = warroom_services.major_incident_declare(
            incident=incident,
            actor=manager,
            source=CLI,
            manager=manager,
            initial_impact_statement="Checkout is down",
            bridge_link="https://meet.example.com/checkout",
        )
        for role, people in crew.items():
            for person in people:
                warroom_services.role_assign(
                    major=major, actor=manager, source=CLI, role=role, user=person
                )
        drive(incident, manager, "acknowledge", "start")
        traveller.move_to(resolve_at)
        return drive(incident, manager, "resolve")

    return fight
