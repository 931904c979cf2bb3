import pytest

from incidents.choices import ChangeSource
from tests.factories import make_incident
from warroom import services


@pytest.fixture
def p1(responder, service):
    """An open P1 incident."""
    return make_incident(actor=responder, services=[service.slug], impact=1, urgency=1)


@pytest.fixture
def declare(manager):
    """Declare an incident major, as the manager, through the service."""

    def run(incident, *, actor=manager, **fields):
        fields.setdefault("manager", manager)
        fields.setdefault("initial_impact_statement", "Checkout fails for every customer")
        fields.setdefault("bridge_link", "https://meet.example.com/abc-defg-hij")
        return services.major_incident_declare(
            incident=incident, actor=actor, source=ChangeSource.CLI, **fields
        )

    return run


@pytest.fixture
def major(p1, declare):
    """An active major incident on `p1`, managed by `manager`."""
    return declare(p1)
