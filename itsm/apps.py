from django.apps import AppConfig


class ItsmConfig(AppConfig):
    name = "itsm"
    verbose_name = "ITSM portal"

    def ready(self):
        from itsm import audit, sessions
        from itsm.api import schema  # noqa: F401  (registers the schema extension)

        audit.connect()
        sessions.connect()
