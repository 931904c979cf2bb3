"""The war room's figure at /metrics (itsm/metrics.py): major incidents by state (`active` are
the open ones). One query per scrape."""

from prometheus_client.core import GaugeMetricFamily

from itsm.metrics import counted_family
from warroom.choices import MajorIncidentState
from warroom.models import MajorIncident


class MajorIncidentCollector:
    def collect(self):
        yield counted_family(
            GaugeMetricFamily,
            "itsm_major_incidents",
            'Major incidents by state; state="active" are the open ones.',
            MajorIncident.objects.all(),
            {"state": "state"},
            MajorIncidentState.values,
        )
