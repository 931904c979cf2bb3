"""Codes of the customers' contracts and their credit statements."""

from django.db import models

from incidents.choices import Priority


class MeasurementPeriod(models.TextChoices):
    """How often availability is measured; monthly only for now."""

    MONTHLY = "monthly", "Monthly"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"


# The priorities a contract counts as outage unless it says otherwise.
DEFAULT_OUTAGE_PRIORITIES = [Priority.P1.value, Priority.P2.value]
