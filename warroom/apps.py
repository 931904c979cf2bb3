from django.apps import AppConfig


class WarroomConfig(AppConfig):
    name = "warroom"
    verbose_name = "Major incidents and war rooms"

    def ready(self):
        from incidents import clock
        from itsm import outbox
        from itsm.metrics import register_collector
        from warroom import cadence, metrics, receivers, rules
        from warroom.status import cache
        from warroom.status import maintenance_clock as maintenances

        cache.connect()
        for kind, handler in receivers.OUTBOX_HANDLERS.items():
            outbox.register(kind, handler)
        register_collector(metrics.MajorIncidentCollector())

        tick_works = [
            (rules.CLOCK_WORK, rules.due_watches, rules.fire_watch, rules.next_watch_due),
            (cadence.INITIAL_WORK, cadence.due_initial, cadence.fire_initial, cadence.next_due),
            (cadence.UPDATE_WORK, cadence.due_updates, cadence.fire_update, cadence.next_due),
            (
                maintenances.START_WORK,
                maintenances.due_starts,
                maintenances.fire_start,
                maintenances.next_start,
            ),
            (
                maintenances.END_WORK,
                maintenances.due_ends,
                maintenances.fire_end,
                maintenances.next_end,
            ),
        ]
        for name, due, fire, next_due in tick_works:
            clock.register_tick_work(name, due=due, fire=fire, next_due=next_due)
