"""An alert storm on PostgreSQL: concurrent identical alerts are all kept and open one incident,
paged once, with any number of workers draining at once; a group's payloads apply in the order
they arrived."""

import pytest
from django.test import Client

from incidents.alerts import drain, intake
from incidents.alerts.drain import payloads_drain
from incidents.choices import AlertStatus, EventType, IncidentStatus, PayloadOutcome
from incidents.models import AlertGroup, EscalationStep, Incident, ReceivedPayload
from tests.concurrency import all_succeed
from tests.incidents.alert_payloads import payload, send

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_fifty_concurrent_identical_alerts_open_one_incident_and_one_page(make_integration, queued):
    integration = make_integration()
    url = f"/api/alerts/alertmanager/{integration.key}/"
    body = payload("alertmanager_firing")

    responses = all_succeed(*[lambda: send(Client(), url, body) for _ in range(50)])
    assert [r.status_code for r in responses] == [202] * 50
    assert ReceivedPayload.objects.filter(outcome=PayloadOutcome.PENDING).count() == 50
    assert not Incident.objects.exists()  # answered before anything was applied
    assert queued == [(intake.DRAIN_TASK,)]  # one wake for the fifty

    drained = all_succeed(*[payloads_drain for _ in range(4)])

    assert sum(drained) == 50  # each payload applied by one of the four workers
    incident = Incident.objects.get()
    assert incident.events.filter(type=EventType.CREATED).count() == 1
    assert incident.events.count() == 1  # no line for any of the 49 repeats
    group = AlertGroup.objects.get()
    assert group.received_count == 50
    kept = ReceivedPayload.objects.all()
    assert {(p.outcome, p.group_id) for p in kept} == {(PayloadOutcome.ACCEPTED, group.pk)}
    # One page: the escalation of one incident (its first level now, the rest later).
    steps = EscalationStep.objects.all()
    assert {step.incident_id for step in steps} == {incident.pk}
    assert steps.filter(round=0, level__position=1).count() == 1


def test_concurrent_workers_apply_a_group_s_payloads_in_the_order_they_came(
    make_integration, queued, monkeypatch
):
    integration = make_integration()
    url = f"/api/alerts/alertmanager/{integration.key}/"
    firing, resolved = payload("alertmanager_firing"), payload("alertmanager_resolved")
    for body in [firing] * 3 + [resolved] + [firing] * 3 + [resolved]:
        assert send(Client(), url, body).status_code == 202
    monkeypatch.setattr(drain, "BATCH_SIZE", 2)  # the workers hand the integration over

    all_succeed(*[payloads_drain for _ in range(3)])

    # Fired, resolved, fired again, resolved: two incidents, both auto-resolved, in turn.
    first, second = Incident.objects.order_by("pk")
    assert (first.status, second.status) == (IncidentStatus.RESOLVED, IncidentStatus.RESOLVED)
    groups = AlertGroup.objects.order_by("pk")
    assert [g.status for g in groups] == [AlertStatus.RESOLVED, AlertStatus.RESOLVED]
    assert [g.received_count for g in groups] == [4, 4]
    assert not ReceivedPayload.objects.filter(outcome=PayloadOutcome.PENDING).exists()
