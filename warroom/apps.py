from django.apps import AppConfig


class WarroomConfig(AppConfig):
    name = "warroom"
    verbose_name = "Major incidents and war rooms"

    def ready(self):
        from warroom import receivers  # noqa: F401  (connects to the incident core's signals)
