from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self):
        from incidents import receivers  # noqa: F401  (connects to the itsm signals)
