from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self):
        from incidents import metrics, receivers  # noqa: F401  (receivers: the itsm signals)
        from itsm.metrics import register_collector

        register_collector(metrics.IncidentCollector())
        register_collector(metrics.AlertCollector())
