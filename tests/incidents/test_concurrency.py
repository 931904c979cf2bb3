"""Concurrent requests on PostgreSQL: row locks make one acknowledge win, numbers never clash."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents.choices import EventType
from incidents.models import Incident
from itsm.roles import Role
from itsm.services import token_create

# Real transactions, so the threads see each other's commits. A transactional test empties the
# database afterwards; serialized_rollback puts back what migrations created (the role groups).
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

JOIN_TIMEOUT = 60


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


def _all_at_once(calls):
    """Run each call in its own thread, released together; return their responses in order."""
    barrier = threading.Barrier(len(calls))
    responses = [None] * len(calls)
    errors = []

    def run(i, call):
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            responses[i] = call()
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    assert not errors, errors
    return responses


def test_twenty_concurrent_acknowledges_one_wins(make_user, incident):
    clients = _clients(make_user, 20)
    url = f"/api/incidents/{incident.number}/acknowledge/"

    responses = _all_at_once(
        [lambda client=client: client.post(url, {}, format="json") for _, client in clients]
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

    responses = _all_at_once(
        [
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
