from datetime import UTC, datetime

import pytest

from incidents.choices import ChangeSource
from incidents.sla_presets import load_preset
from tests.factories import make_incident
from warroom import services
from warroom.choices import WarRoomRole


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


DECLARED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def commanded(db, responder, service, manager, declare, time_machine):
    """A P1 under the techflow SLA preset (updates every 30 min), declared major at 09:00 UTC
    with `responder` (Rita Ross) as its incident commander."""
    time_machine.move_to(DECLARED, tick=False)
    load_preset("techflow", make_default=True)
    responder.first_name, responder.last_name = "Rita", "Ross"
    responder.save()
    incident = make_incident(actor=responder, services=[service.slug], impact=1, urgency=1)
    major = declare(incident)
    services.role_assign(
        major=major,
        actor=manager,
        source=ChangeSource.CLI,
        role=WarRoomRole.INCIDENT_COMMANDER,
        user=responder,
    )
    return incident
