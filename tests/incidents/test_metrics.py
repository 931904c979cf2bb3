"""The incidents' figures at /metrics, on a hand-built set with known answers: counts by status
and priority, SLA timers and breaches, time to acknowledge and resolve, the alert intake."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents.choices import AlertStatus, IntegrationKind, PayloadOutcome, SlaKind
from incidents.models import AlertGroup, ReceivedPayload, SlaTimer
from incidents.sla import services as sla
from incidents.sla.presets import load_preset
from tests.conftest import sample
from tests.factories import make_incident

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock(db):
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def known_set(clock, responder, drive):
    """P1 acknowledged after 4 min and resolved after 40; P1 never acknowledged, its
    15-minute acknowledge target breached; P3 cancelled; P4 acknowledged after exactly 2 h."""
    load_preset("techflow", make_default=True)
    resolved = make_incident(actor=responder, priority="P1")
    breached = make_incident(actor=responder, priority="P1")
    cancelled = make_incident(actor=responder, priority="P3")
    slow = make_incident(actor=responder, priority="P4")
    drive(cancelled, responder, "cancel")
    clock.move_to(T0 + timedelta(minutes=4))
    drive(resolved, responder, "acknowledge")
    clock.move_to(T0 + timedelta(minutes=20))
    timer = SlaTimer.objects.get(incident=breached, kind=SlaKind.ACKNOWLEDGE)
    sla.sla_fire_deadline(timer=timer, now=timezone.now())
    clock.move_to(T0 + timedelta(minutes=40))
    drive(resolved, responder, "start", "resolve")
    clock.move_to(T0 + timedelta(hours=2))
    drive(slow, responder, "acknowledge")
    return breached


def test_incidents_are_counted_by_status_and_priority(known_set, scrape):
    incidents = scrape()["itsm_incidents"]

    assert {labels: n for labels, n in incidents.items() if n} == {
        frozenset({("status", "resolved"), ("priority", "P1")}): 1,
        frozenset({("status", "new"), ("priority", "P1")}): 1,
        frozenset({("status", "cancelled"), ("priority", "P3")}): 1,
        frozenset({("status", "acknowledged"), ("priority", "P4")}): 1,
    }
    assert len(incidents) == 8 * 4  # every status and priority, zeros included


def test_a_breach_is_counted_and_its_timer_stays_open(known_set, scrape):
    samples = scrape()

    breaches = {labels: n for labels, n in samples["itsm_sla_breaches"].items() if n}
    assert breaches == {
        frozenset({("kind", "acknowledge"), ("priority", "P1")}): 1,
        # the resolved P1 started work after 40 minutes: its respond target had passed
        frozenset({("kind", "respond"), ("priority", "P1")}): 1,
    }
    assert sample(samples, "itsm_sla_timers_open", kind="acknowledge", state="breached") == 1
    assert sample(samples, "itsm_sla_timers_open", kind="acknowledge", state="running") == 0
    assert sample(samples, "itsm_sla_timers_open", kind="resolve", state="running") == 2


def buckets(samples, name) -> dict[str, float]:
    return {dict(labels)["le"]: n for labels, n in samples[f"{name}_bucket"].items()}


def test_time_to_acknowledge_falls_in_its_buckets(known_set, scrape):
    samples = scrape()
    name = "itsm_incident_acknowledge_seconds"

    assert buckets(samples, name) == {
        "60.0": 0,
        "180.0": 0,
        "300.0": 1,  # 4 minutes
        "900.0": 1,
        "1800.0": 1,
        "2700.0": 1,
        "3600.0": 1,
        "7200.0": 2,  # exactly 2 hours: "less than or equal"
        "14400.0": 2,
        "86400.0": 2,
        "+Inf": 2,
    }
    assert sample(samples, f"{name}_count") == 2
    assert sample(samples, f"{name}_sum") == 240 + 7200


def test_time_to_resolve_counts_resolved_incidents_only(known_set, scrape):
    samples = scrape()
    name = "itsm_incident_resolve_seconds"

    resolve = buckets(samples, name)
    assert (resolve["1800.0"], resolve["2700.0"], resolve["+Inf"]) == (0, 1, 1)
    assert sample(samples, f"{name}_sum") == 40 * 60


def test_the_alert_intake_of_the_last_hour_and_the_firing_groups(
    clock, make_integration, incident, scrape
):
    grafana = make_integration(IntegrationKind.GRAFANA)
    outcomes = [PayloadOutcome.ACCEPTED] * 2 + [PayloadOutcome.BAD_SIGNATURE]
    for outcome in outcomes:
        ReceivedPayload.objects.create(integration=grafana, outcome=outcome)
    ReceivedPayload.objects.create(
        integration=grafana, outcome=PayloadOutcome.ACCEPTED, received_at=T0 - timedelta(hours=2)
    )
    AlertGroup.objects.create(integration=grafana, key="a", incident=incident)
    AlertGroup.objects.create(
        integration=grafana, key="b", incident=incident, status=AlertStatus.RESOLVED
    )

    samples = scrape()

    payloads = "itsm_alert_payloads_last_hour"
    assert sample(samples, payloads, integration_kind="grafana", outcome="accepted") == 2
    assert sample(samples, payloads, integration_kind="grafana", outcome="bad_signature") == 1
    assert sample(samples, payloads, integration_kind="alertmanager", outcome="accepted") == 0
    assert sample(samples, "itsm_alert_groups_firing", integration_kind="grafana") == 1
    assert sample(samples, "itsm_alert_groups_firing", integration_kind="pagerduty") == 0
