"""Helpers of the credit tests: a customer with the issue's contract, and incidents with
outage windows set exactly."""

from datetime import UTC, datetime
from decimal import Decimal

from incidents.models import Incident
from postmortems.credits.computation import Tier
from postmortems.credits.services import customer_create
from tests.factories import make_incident

NOV = datetime(2026, 11, 1, tzinfo=UTC)  # a 30-day month
AFTER_NOV = datetime(2026, 12, 1, 3, tzinfo=UTC)  # when the monthly job runs
TIERS = [Tier(Decimal("99.95"), Decimal("10")), Tier(Decimal("99.0"), Decimal("25"))]


def nov(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def make_customer(name="Acme", *, services=(), **contract):
    """A customer on 99.95 % monthly, 10 % below 99.95, 25 % below 99.0, 1,000.00 EUR a month."""
    contract = {
        "availability_target": Decimal("99.95"),
        "monthly_fee": Decimal("1000.00"),
        "currency": "EUR",
        "tiers": TIERS,
        **contract,
    }
    return customer_create(actor=None, name=name, services=list(services), **contract)


def outage(actor, service, started_at, ended_at=None, *, priority="P1", **fields):
    """An incident on `service` whose impact ran from `started_at` to its mitigation at
    `ended_at` (None: still open)."""
    incident = make_incident(actor=actor, services=[service.slug], priority=priority)
    fields = {"started_at": started_at, "mitigated_at": ended_at, **fields}
    if ended_at is not None:
        fields.setdefault("status", "mitigated")
    Incident.objects.filter(pk=incident.pk).update(**fields)
    incident.refresh_from_db()
    return incident
