"""The incidents' figures at /metrics (itsm/metrics.py): counts by status and priority, SLA
timers and breaches, time to acknowledge and to resolve, and the alert intake. Five aggregate
queries per scrape, however many incidents there are."""

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

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
from itsm.metrics import counted_family, histogram_aggregates, histogram_family, labelled

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
        rows = Incident.objects.order_by().values("status", "priority").annotate(n=Count("pk"))
        return counted_family(
            GaugeMetricFamily,
            "itsm_incidents",
            "Incidents by status and priority.",
            rows,
            {"status": "status", "priority": "priority"},
            IncidentStatus.values,
            Priority.values,
        )

    @staticmethod
    def sla_timers():
        """Open timers by kind and state, and breaches by kind and the incident's (current)
        priority: one query over the timers."""
        rows = (
            SlaTimer.objects.order_by()
            .values("kind", "state", "incident__priority")
            .annotate(
                open=Count("pk", filter=Q(stopped_at__isnull=True)),
                breached=Count("pk", filter=Q(breached_at__isnull=False)),
            )
        )
        open_timers, breaches = {}, {}
        for row in rows:
            by_state, by_priority = (
                (row["kind"], row["state"]),
                (row["kind"], row["incident__priority"]),
            )
            if row["open"]:
                open_timers[by_state] = open_timers.get(by_state, 0) + row["open"]
            breaches[by_priority] = breaches.get(by_priority, 0) + row["breached"]
        yield labelled(
            GaugeMetricFamily(
                "itsm_sla_timers_open",
                "SLA timers not yet met or cancelled, by kind and state.",
                labels=["kind", "state"],
            ),
            open_timers,
            SlaKind.values,
            OPEN_TIMER_STATES,
        )
        yield labelled(
            CounterMetricFamily(
                "itsm_sla_breaches",
                "SLA timers that breached, by kind and the incident's priority.",
                labels=["kind", "priority"],
            ),
            breaches,
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
        rows = (
            ReceivedPayload.objects.order_by()
            .filter(received_at__gte=since)
            .values("integration__kind", "outcome")
            .annotate(n=Count("pk"))
        )
        return counted_family(
            GaugeMetricFamily,
            "itsm_alert_payloads_last_hour",
            "Payloads the alert integrations received in the last hour, by kind and outcome.",
            rows,
            {"integration_kind": "integration__kind", "outcome": "outcome"},
            IntegrationKind.values,
            PayloadOutcome.values,
        )

    @staticmethod
    def firing_groups():
        rows = (
            AlertGroup.objects.order_by()
            .filter(status=AlertStatus.FIRING)
            .values("integration__kind")
            .annotate(n=Count("pk"))
        )
        return counted_family(
            GaugeMetricFamily,
            "itsm_alert_groups_firing",
            "Alert groups with an alert still firing, by integration kind.",
            rows,
            {"integration_kind": "integration__kind"},
            IntegrationKind.values,
        )
