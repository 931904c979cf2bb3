"""Concurrent requests on PostgreSQL: row locks make one acknowledge win, numbers never clash."""

import pytest
from rest_framework.test import APIClient

from incidents.choices import EventType
from incidents.models import Incident
from itsm.roles import Role
from itsm.services import token_create
from tests.concurrency import all_succeed

# Real transactions, so the threads see each other's commits. A transactional test empties the
# database afterwards; serialized_rollback puts back what migrations created (the role groups).
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _clients(make_user, n):
    """n API clients, each signed in as its own responder with its own token."""
    clients = []
    for i in range(n):
        user = make_user(f"responder{i}", roles=[Role.RESPONDER])
        _, raw = token_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append((user, client))
    return clients


def test_twenty_concurrent_acknowledges_one_wins(make_user, incident):
    clients = _clients(make_user, 20)
    url = f"/api/incidents/{incident.number}/acknowledge/"

    responses = all_succeed(
        *[lambda client=client: client.post(url, {}, format="json") for _, client in clients]
    )

    codes = sorted(response.status_code for response in responses)
    assert codes == [200] + [409] * 19
    assert all(
        r.json()["error"]["code"] == "invalid_transition" for r in responses if r.status_code == 409
    )
    [winner] = [
        user for (user, _), r in zip(clients, responses, strict=True) if r.status_code == 200
    ]
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.status == "acknowledged"
    assert incident.assignee == winner
    acks = incident.events.filter(type=EventType.TRANSITION, data__transition="acknowledge")
    assert acks.count() == 1
    assert acks.get().actor == winner
    assert incident.history.filter(status="acknowledged").count() == 1


@pytest.mark.parametrize("n", [2, 10])
def test_concurrent_creates_never_share_a_number(make_user, n):
    clients = _clients(make_user, n)

    responses = all_succeed(
        *[
            lambda client=client, i=i: client.post(
                "/api/incidents/", {"title": f"Outage {i}", "priority": "P2"}, format="json"
            )
            for i, (_, client) in enumerate(clients)
        ]
    )

    assert [r.status_code for r in responses] == [201] * n
    numbers = {r.json()["number"] for r in responses}
    assert len(numbers) == n
    assert set(Incident.objects.values_list("number", flat=True)) == numbers
