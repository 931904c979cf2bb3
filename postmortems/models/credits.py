"""Customers, their contract (availability target, outage priorities, credit tiers, monthly
fee) and the frozen monthly credit statements (docs/credits.md). A statement is written once
per revision and never edited afterwards, except to approve it or mark it superseded."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.choices import Priority
from incidents.models import Service
from postmortems.credits.choices import (
    DEFAULT_OUTAGE_PRIORITIES,
    MeasurementPeriod,
    StatementStatus,
)

__all__ = ["CreditStatement", "CreditTier", "Customer"]

VIEW_CUSTOMER = "postmortems.view_customer"
ADD_CUSTOMER = "postmortems.add_customer"
CHANGE_CUSTOMER = "postmortems.change_customer"
VIEW_STATEMENT = "postmortems.view_creditstatement"
APPROVE_STATEMENT = "postmortems.approve_creditstatement"
RECOMPUTE_STATEMENT = "postmortems.change_creditstatement"

# A customer's contract, and what a statement freezes of the month's figures and the contract
# (a recomputation that differs in any of them makes a new revision).
CONTRACT_FIELDS = (
    "availability_target",
    "measurement_period",
    "outage_priorities",
    "monthly_fee",
    "currency",
)
FROZEN_FIELDS = (
    "period_seconds",
    "downtime_seconds",
    "availability",
    "availability_target",
    "breached",
    "credit_percent",
    "credit_amount",
    "monthly_fee",
    "currency",
    "contract",
    "incidents",
)

PERCENT = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]
CURRENCY = RegexValidator(r"^[A-Z]{3}\Z", "An ISO 4217 code: three capital letters.")


def _default_outage_priorities() -> list[str]:
    return list(DEFAULT_OUTAGE_PRIORITIES)


def validate_outage_priorities(value) -> None:
    """A non-empty list of distinct incident priorities."""
    if (
        not isinstance(value, list)
        or not value
        or len(set(value)) != len(value)
        or not set(value) <= set(Priority.values)
    ):
        raise ValidationError(
            "A non-empty list of distinct priorities among %(choices)s.",
            params={"choices": ", ".join(Priority.values)},
        )


class Customer(models.Model):
    name = models.CharField(max_length=200, unique=True)
    services = models.ManyToManyField(Service, related_name="customers", blank=True)
    active = models.BooleanField(default=True, help_text="Only active customers get statements.")
    availability_target = models.DecimalField(
        max_digits=7, decimal_places=4, validators=PERCENT, help_text="Percent, e.g. 99.95."
    )
    measurement_period = models.CharField(
        max_length=10, choices=MeasurementPeriod.choices, default=MeasurementPeriod.MONTHLY
    )
    outage_priorities = models.JSONField(
        default=_default_outage_priorities,
        validators=[validate_outage_priorities],
        help_text='The incident priorities that count as outage, e.g. ["P1", "P2"].',
    )
    monthly_fee = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(max_length=3, default="USD", validators=[CURRENCY])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class CreditTier(models.Model):
    """Availability below `below` percent earns `credit_percent` of the monthly fee."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tiers")
    below = models.DecimalField(max_digits=7, decimal_places=4, validators=PERCENT)
    credit_percent = models.DecimalField(max_digits=5, decimal_places=2, validators=PERCENT)

    class Meta:
        ordering = ["customer", "-below"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "below"], name="credit_tier_unique"),
        ]

    def __str__(self):
        return f"below {self.below} % → {self.credit_percent} %"


class CreditStatement(models.Model):
    """One customer's frozen figures for one month, in revisions: a recomputation that
    differs makes revision n+1 and marks revision n superseded; nothing else changes a row
    but its approval."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="statements")
    month = models.DateField(help_text="The first day of the month measured.")
    revision = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=10, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    period_seconds = models.PositiveIntegerField()
    downtime_seconds = models.PositiveIntegerField()
    availability = models.DecimalField(
        max_digits=7, decimal_places=4, help_text="Percent, rounded down to 4 places."
    )
    availability_target = models.DecimalField(max_digits=7, decimal_places=4)
    breached = models.BooleanField()
    credit_percent = models.DecimalField(max_digits=5, decimal_places=2)
    credit_amount = models.DecimalField(max_digits=14, decimal_places=2)
    monthly_fee = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    contract = models.JSONField(help_text="The outage priorities and tiers applied.")
    incidents = models.JSONField(help_text="The incidents counted, with their windows.")
    computed_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month", "customer__name", "-revision"]
        permissions = [("approve_creditstatement", "Can approve credit statements")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "month", "revision"], name="credit_statement_revision_unique"
            ),
            models.UniqueConstraint(
                fields=["customer", "month"],
                condition=Q(superseded_at__isnull=True),
                name="credit_statement_one_current",
            ),
        ]

    def __str__(self):
        return f"{self.customer} {self.month:%Y-%m} rev. {self.revision}"

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None
