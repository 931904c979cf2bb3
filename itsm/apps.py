from django.apps import AppConfig


class ItsmConfig(AppConfig):
    name = "itsm"
    verbose_name = "ITSM portal"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from itsm.api import schema  # noqa: F401  (registers the schema extension)
        from itsm.twofactor import record_pending_step

        user_logged_in.connect(record_pending_step, dispatch_uid="itsm-two-factor-step")
