"""The incidents' figures at /metrics (itsm/metrics.py): counts by status and priority, SLA
timers and breaches, time to acknowledge and to resolve, and the alert intake. Six aggregate
queries per scrape, however many incidents there are."""

from datetime import timedelta

from django.db.models import DurationField, ExpressionWrapper, F
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from incidents.choices import (
    AlertStatus,
    IncidentStatus,
    IntegrationKind,
    PayloadOutcome,
    Priority,
    SlaKind,
    SlaTimerState,
)
from incidents.models import AlertGroup, Incident, ReceivedPayload, SlaTimer
from itsm.metrics import counted_family, histogram_aggregates, histogram_family

# A timer is open until it is met or cancelled; a breached one still runs towards being met.
OPEN_TIMER_STATES = [SlaTimerState.RUNNING, SlaTimerState.PAUSED, SlaTimerState.BREACHED]
# Received payloads are deleted after RECEIVED_PAYLOAD_DAYS, so their number is not a counter
# (it would fall at every sweep): the intake is counted over a sliding window instead.
ALERT_INTAKE_WINDOW = timedelta(hours=1)


def _since_logged(field: str) -> ExpressionWrapper:
    """From the incident's logging to `field`; null while `field` is."""
    return ExpressionWrapper(F(field) - F("created_at"), output_field=DurationField())


class IncidentCollector:
    def collect(self):
        yield self.incidents()
        yield from self.sla_timers()
        yield from self.response_times()

    @staticmethod
    def incidents():
        return counted_family(
            GaugeMetricFamily,
            "itsm_incidents",
            "Incidents by status and priority.",
            Incident.objects.all(),
            {"status": "status", "priority": "priority"},
            IncidentStatus.values,
            Priority.values,
        )

    @staticmethod
    def sla_timers():
        """Open timers by kind and state (from a partial index), and breaches by kind and the
        incident's (current) priority (joining only the breached timers): a gauge, since a
        priority change moves a breach from one label to another."""
        yield counted_family(
            GaugeMetricFamily,
            "itsm_sla_timers_open",
            "SLA timers not yet met or cancelled, by kind and state.",
            SlaTimer.objects.filter(stopped_at__isnull=True),
            {"kind": "kind", "state": "state"},
            SlaKind.values,
            OPEN_TIMER_STATES,
        )
        yield counted_family(
            GaugeMetricFamily,
            "itsm_sla_breaches",
            "SLA timers that breached, by kind and the incident's priority.",
            SlaTimer.objects.filter(breached_at__isnull=False),
            {"kind": "kind", "priority": "incident__priority"},
            SlaKind.values,
            Priority.values,
        )

    @staticmethod
    def response_times():
        """Logged → acknowledged (MTTA) and logged → resolved (MTTR), bucketed in SQL."""
        result = (
            Incident.objects.order_by()
            .annotate(
                acknowledge=_since_logged("acknowledged_at"), resolve=_since_logged("resolved_at")
            )
            .aggregate(**histogram_aggregates("acknowledge"), **histogram_aggregates("resolve"))
        )
        yield histogram_family(
            "itsm_incident_acknowledge_seconds",
            "Time from an incident's logging to its acknowledgement (MTTA).",
            result,
            "acknowledge",
        )
        yield histogram_family(
            "itsm_incident_resolve_seconds",
            "Time from an incident's logging to its resolution (MTTR), over resolved incidents.",
            result,
            "resolve",
        )


class AlertCollector:
    def collect(self):
        yield self.payloads()
        yield self.firing_groups()

    @staticmethod
    def payloads():
        since = timezone.now() - ALERT_INTAKE_WINDOW
        return counted_family(
            GaugeMetricFamily,
            "itsm_alert_payloads_last_hour",
            "Payloads the alert integrations received in the last hour, by kind and outcome.",
            ReceivedPayload.objects.filter(received_at__gte=since),
            {"integration_kind": "integration__kind", "outcome": "outcome"},
            IntegrationKind.values,
            PayloadOutcome.values,
        )

    @staticmethod
    def firing_groups():
        return counted_family(
            GaugeMetricFamily,
            "itsm_alert_groups_firing",
            "Alert groups with an alert still firing, by integration kind.",
            AlertGroup.objects.filter(status=AlertStatus.FIRING),
            {"integration_kind": "integration__kind"},
            IntegrationKind.values,
        )
