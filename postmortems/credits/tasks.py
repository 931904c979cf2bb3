"""The monthly django-q2 job of the credit statements (its `Schedule` is written by
postmortems/migrations): thin and idempotent, a second run writes nothing."""

from datetime import date

from django.utils import timezone

from postmortems.credits.computation import month_bounds
from postmortems.credits.services import credit_statement_freeze
from postmortems.models import Customer

# The completed months the job (re)computes: the last one is frozen for the first time, the
# earlier ones get a new revision if an incident changed since.
RECHECK_MONTHS = 3


def completed_months(today: date, count: int = RECHECK_MONTHS) -> list[date]:
    """The first days of the `count` months before the month of `today`, oldest first."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count, index)]


def freeze_credit_statements() -> int:
    """Each active customer's statements of the last completed months, from the month it
    became a customer: how many statements were written (new ones and new revisions)."""
    written = 0
    months = completed_months(timezone.now().date())
    for customer in Customer.objects.filter(active=True):
        for month in months:
            if month_bounds(month)[1] <= customer.created_at:
                continue
            _, wrote = credit_statement_freeze(customer=customer, month=month)
            written += wrote
    return written
