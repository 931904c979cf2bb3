"""Planner statistics on the rollup's week and month buckets (PostgreSQL only). Without them
PostgreSQL estimates one group per row for `DATE_TRUNC(…)`, so a timeseries sorts every row of
its range (spilling to disk on a year) instead of hashing its few dozen buckets. The
expressions are Django's `Trunc` in the portal's TIME_ZONE at migration time: after changing
TIME_ZONE the statistics no longer apply (the figures are the same, the plan slower) until
this migration is re-run."""

from django.conf import settings
from django.db import migrations

INTERVALS = ("week", "month")


def _name(interval: str) -> str:
    return f"postmortems_rollup_{interval}_stat"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    zone = settings.TIME_ZONE.replace("'", "''")
    for interval in INTERVALS:
        schema_editor.execute(
            f"CREATE STATISTICS {_name(interval)} ON "
            f"(DATE_TRUNC('{interval}', created_at AT TIME ZONE '{zone}')) "
            "FROM postmortems_incidentrollup"
        )
    schema_editor.execute("ANALYZE postmortems_incidentrollup")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for interval in INTERVALS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {_name(interval)}")


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0012_metrics_rollup")]

    operations = [migrations.RunPython(create, drop)]
