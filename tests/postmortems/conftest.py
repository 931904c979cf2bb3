"""Fixtures of the action-item tests."""

from datetime import date

import pytest

from postmortems.action_items import action_item_create

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
