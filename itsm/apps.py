from django.apps import AppConfig


class ItsmConfig(AppConfig):
    name = "itsm"
    verbose_name = "ITSM portal"

    def ready(self):
        from itsm import receivers  # noqa: F401  (open sockets follow the users' access)
        from itsm.api import schema  # noqa: F401  (registers the schema extension)
