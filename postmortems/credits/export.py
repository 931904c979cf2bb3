"""Credit statements as CSV: one row per statement (the admin action and the API share it).
A cell that a spreadsheet would read as a formula is prefixed with a quote."""

import csv
import io

from itsm.spreadsheet import spreadsheet_cell

COLUMNS = (
    "customer",
    "month",
    "revision",
    "status",
    "current",
    "availability_percent",
    "availability_target_percent",
    "breached",
    "downtime_seconds",
    "credit_percent",
    "credit_amount",
    "currency",
    "monthly_fee",
    "incidents",
    "computed_at",
    "approved_by",
    "approved_at",
)
CONTENT_TYPE = "text/csv; charset=utf-8"


def _row(statement) -> list[str]:
    values = (
        statement.customer.name,
        f"{statement.month:%Y-%m}",
        statement.revision,
        statement.status,
        "yes" if statement.is_current else "no",
        statement.availability,
        statement.availability_target,
        "yes" if statement.breached else "no",
        statement.downtime_seconds,
        statement.credit_percent,
        statement.credit_amount,
        statement.currency,
        statement.monthly_fee,
        " ".join(row["number"] for row in statement.incidents),
        statement.computed_at.isoformat(),
        statement.approved_by.get_username() if statement.approved_by else "",
        statement.approved_at.isoformat() if statement.approved_at else "",
    )
    return [spreadsheet_cell(value) for value in values]


def statements_csv(statements) -> str:
    """`statements` (with their customers and approvers joined) as CSV text, header first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(_row(statement) for statement in statements)
    return out.getvalue()


def csv_filename(stamp) -> str:
    return f'attachment; filename="credit-statements-{stamp:%Y%m%d-%H%M%S}.csv"'
