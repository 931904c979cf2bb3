from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-incident reviews"

    def ready(self):
        from django.db.backends.signals import connection_created

        from incidents import clock
        from itsm import outbox
        from postmortems import receivers, summary, sweep
        from postmortems.credits import demo  # noqa: F401  (its receiver: demo customers)
        from postmortems.metrics.sql import register_sqlite_functions
        from warroom.communications import rendering

        connection_created.connect(register_sqlite_functions, dispatch_uid="metrics-sqlite")
        rendering.register_variables("postmortems", summary.REVIEW_VARIABLES)
        outbox.register(receivers.ENSURE_REVIEW, receivers.ensure_review)

        clock.register_tick_work(
            sweep.CLOCK_WORK,
            due=sweep.due_unreviewed,
            fire=sweep.draft_missing,
            next_due=sweep.next_sweep_due,
        )
