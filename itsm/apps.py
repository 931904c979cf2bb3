from django.apps import AppConfig
from django.conf import settings


class ItsmConfig(AppConfig):
    name = "itsm"
    verbose_name = "ITSM portal"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from itsm import (
            audit,
            checks,  # noqa: F401  (registers the start-up checks)
            metrics,
            permission_cache,
            receivers,  # noqa: F401  (open sockets follow the users' access)
            sessions,
        )
        from itsm.api import schema  # noqa: F401  (registers the schema extension)
        from itsm.oidc import parse_role_map
        from itsm.twofactor import record_pending_step

        audit.connect()
        permission_cache.connect()
        metrics.register_collector(metrics.NotificationCollector())
        sessions.connect()
        user_logged_in.connect(record_pending_step, dispatch_uid="itsm-two-factor-step")
        if settings.OIDC_ENABLED:  # a mistyped role fails the start, not someone's sign-in
            parse_role_map(settings.OIDC_ROLE_MAP)
