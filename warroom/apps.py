from django.apps import AppConfig


class WarroomConfig(AppConfig):
    name = "warroom"
    verbose_name = "Major incidents and war rooms"

    def ready(self):
        from incidents import clock
        from warroom import receivers, rules  # noqa: F401  (receivers: the core's signals)

        clock.register_tick_work(
            rules.CLOCK_WORK,
            due=rules.due_watches,
            fire=rules.fire_watch,
            next_due=rules.next_watch_due,
        )
