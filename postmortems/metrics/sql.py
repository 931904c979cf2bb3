"""SQL building blocks the metrics are written in, on PostgreSQL and on the embedded SQLite.

Durations are seconds between two timestamps, computed by the database. Percentiles are
PostgreSQL's `percentile_cont`; SQLite has none, so each SQLite connection gets an aggregate of
the same name and meaning (registered from the app's ready()). Either way a figure is one
aggregate in one query: no incident is loaded into Python on PostgreSQL.
"""

import math
import re

from django.db import connection
from django.db.models import Aggregate, FloatField, Func, QuerySet

PERCENTILE_FUNCTION = "itsm_percentile_cont"


class Seconds(Func):
    """Seconds from `start` to `end` (NULL when either is NULL)."""

    output_field = FloatField()
    arity = 2

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="((JULIANDAY(%(expressions)s)) * 86400.0)",
            arg_joiner=") - JULIANDAY(",
            **extra,
        )


class Percentile(Aggregate):
    """The continuous percentile (0.5 the median) of a numeric expression; NULLs ignored."""

    name = "Percentile"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        self.fraction = fraction
        super().__init__(expression, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template=f"PERCENTILE_CONT({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template=f"{PERCENTILE_FUNCTION}(%(expressions)s, {self.fraction!r})",
            **extra,
        )


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks."""
    if not values:
        return None
    values = sorted(values)
    position = fraction * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


class _SqlitePercentile:
    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        self.fraction = fraction
        if value is not None:
            self.values.append(float(value))

    def finalize(self):
        return percentile_cont(self.values, self.fraction)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """connection_created receiver: SQLite's percentile aggregate."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(PERCENTILE_FUNCTION, 2, _SqlitePercentile)


def grouping_sets(grouped: QuerySet, keys: int) -> list[dict]:
    """`grouped` (`.values(k1, …, kn).annotate(aggregates)`, its `keys` keys first), on
    PostgreSQL, with each key its
    own grouping set instead of one group per combination: one scan computes n groupings. A
    row has the key of its set and NULL in the others (so no key may be NULL itself). Django
    writes the GROUP BY of `values()` as the select's positions, which GROUPING SETS takes."""
    sql, params = grouped.query.sql_with_params()
    positions = ", ".join(str(i) for i in range(1, keys + 1))
    sets = ", ".join(f"({i})" for i in range(1, keys + 1))
    sql, found = re.subn(rf"GROUP BY {positions}(?![\d,])", f"GROUP BY GROUPING SETS ({sets})", sql)
    if found != 1:
        raise ValueError(f"Expected one GROUP BY {positions} in {sql}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
