"""The metrics as flat rows: the API's JSON, and the CSV of every table (API and page)."""

import csv
import io

from itsm.spreadsheet import spreadsheet_cell
from postmortems.metrics.queries import Figure, Group

FIGURE_COLUMNS = [
    "metric",
    "label",
    "unit",
    "value",
    "median",
    "p90",
    "total",
    "n",
    "excluded",
    "numerator",
    "denominator",
    "target",
    "direction",
    "meets_target",
]
SLA_COLUMNS = ["priority", "kind", "met", "breached", "due", "compliance"]


def figure_row(figure: Figure) -> dict:
    return {column: getattr(figure, column) for column in FIGURE_COLUMNS}


def group_rows(groups: list[Group], key_name: str, metrics=None) -> list[dict]:
    """One row per group and metric (every metric unless `metrics` names some)."""
    return [
        {key_name: bucket_label(group.key), **figure_row(figure)}
        for group in groups
        for name, figure in group.figures.items()
        if metrics is None or name in metrics
    ]


def bucket_label(key) -> str:
    """A bucket's first day, or a slice's value ("none" for incidents without one)."""
    if hasattr(key, "date"):
        return key.date().isoformat()
    if key is None:
        return "none"
    return str(key).lower() if isinstance(key, bool) else str(key)


def to_csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    # Text (a slice's service or team slug) is made safe; numbers stay numbers.
    writer.writerows(
        {k: spreadsheet_cell(v) if isinstance(v, str) else v for k, v in row.items()}
        for row in rows
    )
    return out.getvalue()
