"""The per-incident rollup (`IncidentRollup`): each incident's measures, computed by
definitions.with_measures and stored, so that a report aggregates one row per incident.

Kept current in the transaction that changes an incident: the incident services send
`timeline_event_written` with every timeline event they write (receivers.py), an alert group
saved with its incident does the same, and `refresh_changed` (a scheduled django-q2 job and the
`metrics_rollup` command) repairs what a write outside the services missed.
"""

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from incidents.choices import EventType
from incidents.models import AlertGroup, Incident, IncidentEvent
from itsm.postgresql.base import prepared_cursor
from postmortems.metrics.definitions import recurrence_window, with_measures
from postmortems.models import IncidentRollup, PostIncidentReview

# The incident's fields a report selects and groups by, and its measures (definitions.py).
COPIED = ("created_at", "priority", "team_id", "source")
MEASURES = (
    "mttd",
    "mtta",
    "mttr_response",
    "mttr_mitigate",
    "mttr_resolve",
    "recurs_after",
    "false_positive",
    "reopened",
    "ever_resolved",
    "revenue_impact",
)
STORED = (*COPIED, *MEASURES)
# Timeline events after which an incident's measures may have changed; with what decides the
# recurrence of later incidents (its problem, services or alert groups) for the second set.
MEASURED_EVENTS = {EventType.CREATED, EventType.TRANSITION}
MATCHED_EVENTS = {EventType.FIELD_CHANGE, EventType.PRIORITY_CHANGE, EventType.ALERT}
# Incidents per query: few enough that PostgreSQL's planner does not JIT-compile the measures'
# subqueries (above about 500 rows that compilation alone took seconds).
BATCH_SIZE = 200


def rollup_refresh(incident_ids: Iterable[int]) -> int:
    """Recompute and store the rollup rows of these incidents, in one statement: how many."""
    ids = list(incident_ids)
    if not ids:
        return 0
    ids_form = _ids_form(ids)
    sql, params, ids_at = _compiled_upsert(ids_form)
    params[ids_at] = _ID_FORMS[ids_form][1](ids)
    with _cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(timezone.now()), *params])
        return cursor.rowcount


# The upsert's SQL, by database, recurrence window and form of the ids: Django takes about
# 12 ms to build and compile the measures' query, and every timeline event of a measured kind
# runs it.
_UPSERTS: dict[tuple, tuple[str, tuple, int]] = {}
_IDS = object()  # stands for the incidents' ids among the compiled query's parameters

# The incidents' ids as one parameter, by form: the SQL that reads them, and how to pass them.
# On PostgreSQL the statement is prepared (_cursor), and planning it took about 5 ms, more
# than running it for one incident: one id, the common case (a write to one incident), has
# SQL of its own, whose cost PostgreSQL estimates the same for any id, so that it settles on
# one plan for all; a list's estimate depends on its length, and is planned each time. psycopg
# forgets a connection's prepared statements at any rollback on it (a savepoint's too): the
# next refreshes there prepare and try plans again.
_ID_FORMS = {
    "postgresql-one": ("SELECT %s::bigint", lambda ids: ids[0]),
    "postgresql": ("SELECT unnest(%s::bigint[])", list),
    "sqlite": ("SELECT value FROM json_each(%s)", json.dumps),
}


def _ids_form(ids: list[int]) -> str:
    one = connection.vendor == "postgresql" and len(ids) == 1
    return "postgresql-one" if one else connection.vendor


def _cursor():
    """PostgreSQL prepares the upsert once per connection; SQLite plans it quickly."""
    if connection.vendor == "postgresql":
        return prepared_cursor(connection)
    return connection.cursor()


def _compiled_upsert(ids_form: str) -> tuple[str, list, int]:
    """`INSERT … SELECT` of the measures (definitions.with_measures) with `ON CONFLICT DO
    UPDATE`, compiled once per process: its SQL, its parameters (a copy) and where in them
    the ids go. The first parameter, not in the list, is `refreshed_at`."""
    key = (ids_form, settings.METRICS_RECURRENCE_DAYS)
    if key not in _UPSERTS:
        ids = RawSQL(_ID_FORMS[ids_form][0], (_IDS,))  # noqa: S611 (SQL above)
        selected = with_measures(Incident.objects.filter(pk__in=ids))
        select, params = selected.values("pk", *STORED).query.sql_with_params()
        quote = connection.ops.quote_name
        fields = ["incident", *STORED, "refreshed_at"]
        columns = [quote(IncidentRollup._meta.get_field(field).column) for field in fields]
        measures = ", ".join(f"m.{quote(name)}" for name in ("pk", *STORED))
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns[1:])
        # Names from the models and SQL Django compiled; the only values are parameters.
        # SQLite needs the WHERE to read ON CONFLICT as the upsert's.
        sql = (
            f"INSERT INTO {quote(IncidentRollup._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {measures}, %s FROM ({select}) m WHERE true "
            f"ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}"
        )
        _UPSERTS[key] = (sql, params, params.index(_IDS))
    sql, params, ids_at = _UPSERTS[key]
    return sql, list(params), ids_at


def rollup_refresh_with_followers(incident_ids: Iterable[int]) -> int:
    """`rollup_refresh` of these incidents and of the later ones whose recurrence a change to
    them may decide: those they match now, and those that recurred after them until now."""
    ids = list(incident_ids)
    return rollup_refresh({*ids, *followers(ids)})


def followers(ids: list[int]) -> set[int]:
    """Incidents whose recurrence a change to `ids` may decide: those whose stored recurrence
    points at one of them, and those logged within the recurrence window after one of them,
    on one of their services, with one of their problems or alert keys (a few more perhaps:
    refreshing a row needlessly changes nothing). Three small queries when `ids` have no
    problem and no alert group, four otherwise."""
    origins = list(Incident.objects.filter(pk__in=ids).values_list("created_at", "related_problem"))
    logged = [created_at for created_at, _ in origins]
    pointing = IncidentRollup.objects.filter(recurs_after__in=logged).values_list("pk", flat=True)
    found = set(pointing)
    problems = {problem for _, problem in origins if problem}
    keys = set(AlertGroup.objects.filter(incident__in=ids).values_list("key", flat=True))
    if not problems and not keys:
        return found - set(ids)
    services = Incident.services.through.objects.filter(incident__in=ids).values("service_id")
    matching = Incident.objects.filter(
        Q(related_problem__in=problems) | Q(alert_groups__key__in=keys),
        created_at__gt=min(logged),
        created_at__lte=max(logged) + recurrence_window(),
        services__in=services,
    )
    return (found | set(matching.values_list("pk", flat=True))) - set(ids)


def refresh_changed(since: datetime) -> int:
    """Repair: refresh, in batches, the incidents without a rollup row, and those changed
    since `since` (their row, a timeline event, an alert group or the review) with their
    followers."""
    missing = Incident.objects.filter(metric_rollup__isnull=True).values_list("pk", flat=True)
    changed = Incident.objects.filter(
        Q(updated_at__gte=since)
        | Q(pk__in=IncidentEvent.objects.filter(at__gte=since).values("incident_id"))
        | Q(pk__in=AlertGroup.objects.filter(first_seen_at__gte=since).values("incident_id"))
        | Q(pk__in=PostIncidentReview.objects.filter(updated_at__gte=since).values("incident_id"))
    ).exclude(metric_rollup__isnull=True)
    # In time order, so that each batch's followers are searched in a narrow window.
    changed = list(changed.order_by("created_at", "pk").values_list("pk", flat=True))
    refreshed = _in_batches(missing, rollup_refresh)
    return refreshed + _in_batches(changed, rollup_refresh_with_followers)


def rebuild_all() -> int:
    """Every incident's row, recomputed in batches (after raising METRICS_RECURRENCE_DAYS)."""
    return _in_batches(Incident.objects.values_list("pk", flat=True), rollup_refresh)


def _in_batches(ids, refresh) -> int:
    """`refresh` of `ids` (a list or a query), BATCH_SIZE at a time."""
    ids = list(ids)
    return sum(refresh(ids[i : i + BATCH_SIZE]) for i in range(0, len(ids), BATCH_SIZE))


def refresh_recent(days: int) -> int:
    """The scheduled job: `refresh_changed` over the last `days` days."""
    return refresh_changed(timezone.now() - timedelta(days=days))
