"""Status page updates posted at the same moment (PostgreSQL): the incident is published once,
every update is kept, and each update's "before" is the state the one before it left."""

from itertools import pairwise

import pytest

from tests.concurrency import all_succeed
from tests.warroom.status_fixtures import make_component, post
from warroom.models import StatusImpact, StatusIncident

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
STATES = ["degraded_performance", "partial_outage", "major_outage", "operational"] * 2


def test_eight_first_updates_at_once_publish_the_incident_once_and_chain_their_states(
    incident, manager
):
    api = make_component(manager, "API")

    def update(n, state):
        return lambda: post(incident, manager, "investigating", f"Update {n}.", [(api, state)])

    all_succeed(*[update(n, state) for n, state in enumerate(STATES)])

    public = StatusIncident.objects.get(incident=incident)
    updates = list(public.updates.order_by("created_at", "id"))
    assert len(updates) == len(STATES)
    chain = [u.affected_components.get() for u in updates]
    assert chain[0].old_status == "operational"
    for before, after in pairwise(chain):
        assert after.old_status == before.new_status
    impact = StatusImpact.objects.get(status_incident=public, component=api)
    assert impact.status == chain[-1].new_status
    assert impact.worst_status == "major_outage"
    assert public.impact == "critical"
    assert incident.events.filter(public=True).count() == len(STATES)
