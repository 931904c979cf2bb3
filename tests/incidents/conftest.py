"""Fixtures the incident tests share."""

import pytest

from incidents.alerts.services import integration_create
from incidents.choices import IntegrationKind


@pytest.fixture
def make_integration(service):
    """`make_integration(kind, **fields)`: a monitoring integration of the service."""

    def make(kind=IntegrationKind.ALERTMANAGER, **fields):
        fields.setdefault("name", f"{kind} prod")
        return integration_create(actor=None, kind=kind, service=service, **fields)

    return make
