"""Fixtures of the review and action-item tests."""

from datetime import date

import pytest
import time_machine

from postmortems.action_items import action_item_create
from tests.postmortems.reviews import T0, at, resolved_incident

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
def resolve(traveller, drive, responder):
    """`resolve("P1")`: a P1 opened at T0 and resolved an hour later."""

    def run(priority, **kwargs):
        return resolved_incident(
            traveller, drive, responder, priority=priority, resolve_at=at(hours=1), **kwargs
        )

    return run
