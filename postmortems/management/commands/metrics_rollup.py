"""`manage.py metrics_rollup`: (re)build the per-incident metrics rollup (docs/metrics.md).

Without options it refreshes the incidents without a row and those changed in the last day, as
the hourly job does; `--days N` looks N days back; `--all` recomputes every incident's row (a
backfill, or after raising METRICS_RECURRENCE_DAYS).
"""

from django.core.management.base import BaseCommand

from postmortems.metrics import rollup
from postmortems.tasks import ROLLUP_REPAIR_DAYS


class Command(BaseCommand):
    help = "Refresh the per-incident metrics rollup: missing and recently changed rows, or all."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=ROLLUP_REPAIR_DAYS,
            help=f"Incidents changed in the last N days (default {ROLLUP_REPAIR_DAYS}).",
        )
        parser.add_argument("--all", action="store_true", help="Recompute every incident's row.")

    def handle(self, *args, days, all, **options):
        count = rollup.rebuild_all() if all else rollup.refresh_recent(days=days)
        self.stdout.write(f"Refreshed the metrics rollup of {count} incidents.")
