"""The war room's figure at /metrics: major incidents by state."""

from tests.conftest import sample
from tests.factories import make_incident
from warroom import services


def test_open_major_incidents_are_the_active_ones(responder, manager, service, scrape):
    for _ in range(2):
        p1 = make_incident(actor=responder, services=[service.slug], impact=1, urgency=1)
        major = services.major_incident_declare(
            incident=p1,
            actor=manager,
            source="cli",
            manager=manager,
            initial_impact_statement="Down",
        )
    services.major_incident_demote(major=major, actor=manager, source="cli", reason="Contained")

    samples = scrape()

    assert sample(samples, "itsm_major_incidents", state="active") == 1
    assert sample(samples, "itsm_major_incidents", state="demoted") == 1
    assert sample(samples, "itsm_major_incidents", state="closed") == 0
