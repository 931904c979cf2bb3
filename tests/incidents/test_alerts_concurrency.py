"""An alert storm on PostgreSQL: concurrent identical alerts open one incident, paged once."""

import pytest
from django.test import Client

from incidents.choices import EventType
from incidents.models import AlertGroup, EscalationStep, Incident
from tests.concurrency import all_succeed
from tests.incidents.alert_payloads import payload, post

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_fifty_concurrent_identical_alerts_open_one_incident_and_one_page(make_integration):
    integration = make_integration()
    url = f"/api/alerts/alertmanager/{integration.key}/"
    body = payload("alertmanager_firing")

    responses = all_succeed(*[lambda: post(Client(), url, body) for _ in range(50)])

    assert [r.status_code for r in responses] == [200] * 50
    incident = Incident.objects.get()
    assert {r.json()["incident"] for r in responses} == {incident.number}
    assert incident.events.filter(type=EventType.CREATED).count() == 1
    assert incident.events.count() == 1  # no line for any of the 49 repeats
    group = AlertGroup.objects.get()
    assert group.received_count == 50
    # One page: the escalation of one incident (its first level now, the rest later).
    steps = EscalationStep.objects.all()
    assert {step.incident_id for step in steps} == {incident.pk}
    assert steps.filter(round=0, level__position=1).count() == 1
