"""Reads of customers and credit statements: the outage windows of one customer's month (one
query, bounded by the month and the customer's services, never every incident), the month's
figures, and the customers an incident affects (one query)."""

from datetime import date, datetime

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents.choices import IncidentStatus
from incidents.models import Incident, Service
from postmortems.credits.computation import (
    Contract,
    Figures,
    Tier,
    Window,
    credit_figures,
    month_bounds,
)
from postmortems.models import CreditStatement, Customer


def customer_queryset():
    return Customer.objects.prefetch_related("services", "tiers")


def statement_queryset():
    return CreditStatement.objects.select_related("customer", "approved_by")


def current_statement(*, customer: Customer, month: date) -> CreditStatement | None:
    return (
        CreditStatement.objects.filter(customer=customer, month=month, superseded_at__isnull=True)
        .select_related("customer")
        .first()
    )


def outage_windows(*, customer: Customer, start: datetime, end: datetime) -> list[Window]:
    """The outage windows touching [start, end) of the incidents on the customer's services
    with an outage priority; cancelled incidents (logged in error) are left out."""
    ended = Coalesce("mitigated_at", "resolved_at")
    services = Service.objects.filter(customers=customer).values("pk")
    rows = (
        Incident.objects.filter(
            services__in=services,
            priority__in=customer.outage_priorities,
            started_at__lt=end,
        )
        .exclude(status=IncidentStatus.CANCELLED)
        .annotate(ended=ended)
        .filter(Q(ended__isnull=True) | Q(ended__gt=start))
        .values_list("number", "priority", "started_at", "ended")
        .distinct()
    )
    return [Window(*row) for row in rows]


def contract_of(customer: Customer) -> Contract:
    tiers = tuple(Tier(tier.below, tier.credit_percent) for tier in customer.tiers.all())
    return Contract(customer.availability_target, tiers, customer.monthly_fee)


def customer_month_figures(
    *, customer: Customer, month: date, now: datetime | None = None
) -> Figures:
    """The customer's figures for the month of `month`, as of `now` (an open incident counts
    until then): two queries, its tiers (unless prefetched) and its outage windows."""
    start, end = month_bounds(month)
    windows = outage_windows(customer=customer, start=start, end=end)
    return credit_figures(
        windows=windows,
        month=month,
        contract=contract_of(customer),
        now=now or timezone.now(),
    )


def affected_customers(incident: Incident) -> list[Customer]:
    """The active customers using a service the incident touches: one query."""
    return list(
        Customer.objects.filter(active=True, services__incidents=incident)
        .distinct()
        .order_by("name")
    )
