from django.apps import AppConfig


class WarroomConfig(AppConfig):
    name = "warroom"
    verbose_name = "Major incidents and war rooms"

    def ready(self):
        from incidents import clock
        from warroom import cadence, receivers, rules  # noqa: F401  (receivers: signals)
        from warroom.status import cache

        cache.connect()

        clock.register_tick_work(
            rules.CLOCK_WORK,
            due=rules.due_watches,
            fire=rules.fire_watch,
            next_due=rules.next_watch_due,
        )
        clock.register_tick_work(
            cadence.INITIAL_WORK,
            due=cadence.due_initial,
            fire=cadence.fire_initial,
            next_due=cadence.next_due,
        )
        clock.register_tick_work(
            cadence.UPDATE_WORK,
            due=cadence.due_updates,
            fire=cadence.fire_update,
            next_due=cadence.next_due,
        )
