"""Fixtures the incident tests share."""

import pytest

from incidents.alerts import intake
from incidents.alerts.services import integration_create
from incidents.choices import IntegrationKind


@pytest.fixture
def make_integration(service):
    """`make_integration(kind, **fields)`: a monitoring integration of the service."""

    def make(kind=IntegrationKind.ALERTMANAGER, **fields):
        fields.setdefault("name", f"{kind} prod")
        return integration_create(actor=None, kind=kind, service=service, **fields)

    return make


@pytest.fixture
def queued(monkeypatch):
    """The alert drains the web queues for the worker, kept here instead of run inline."""
    tasks = []
    monkeypatch.setattr(intake, "async_task", lambda *args: tasks.append(args))
    intake.drain_rearm()
    yield tasks
    intake.drain_rearm()
