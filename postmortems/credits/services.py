"""Every write of customers and credit statements.

A statement is frozen: `credit_statement_freeze` writes a customer's month once, and again only
as a new revision when a recomputation differs (the earlier one, draft or approved, is marked
superseded, never edited). Writes for one customer are serialised by locking its row, so two
jobs (or a job and a manager's recompute) racing make one statement; a unique constraint on
(customer, month) among current statements backs that up."""

import logging
from dataclasses import asdict
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from itsm.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from postmortems.credits import selectors
from postmortems.credits.choices import StatementStatus
from postmortems.credits.computation import Figures, Tier, month_bounds, tier_problems
from postmortems.models import CreditStatement, CreditTier, Customer
from postmortems.models.credits import (
    ADD_CUSTOMER,
    APPROVE_STATEMENT,
    CHANGE_CUSTOMER,
    FROZEN_FIELDS,
    RECOMPUTE_STATEMENT,
)

logger = logging.getLogger(__name__)


def _check_perm(actor, perm: str, what: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


# --- customers ----------------------------------------------------------------------------------


def _validated(customer: Customer, tiers: list[Tier] | None) -> None:
    """400 naming each bad field: the model's own checks, then the tiers against the target."""
    errors: dict = {}
    try:
        customer.full_clean(validate_unique=True)
    except ValidationError as error:
        errors.update(error.message_dict)
    if tiers is not None:
        problems = tier_problems(tiers, customer.availability_target)
        if problems:
            errors["tiers"] = problems
    if errors:
        raise ValidationFailed.for_fields(errors)


def _replace_tiers(customer: Customer, tiers: list[Tier]) -> None:
    customer.tiers.all().delete()
    CreditTier.objects.bulk_create(
        CreditTier(customer=customer, below=tier.below, credit_percent=tier.credit_percent)
        for tier in tiers
    )


@transaction.atomic
def customer_create(*, actor, services: list, tiers: list[Tier], **contract) -> Customer:
    """A new customer with its contract, services and credit tiers (in order: thresholds
    descending, credits ascending)."""
    _check_perm(actor, ADD_CUSTOMER, "add customers")
    customer = Customer(**contract)
    _validated(customer, tiers)
    customer.save()
    customer.services.set(services)
    _replace_tiers(customer, tiers)
    logger.info("Customer %s created by %s", customer.pk, actor)
    return customer


@transaction.atomic
def customer_update(
    *, customer: Customer, actor, services: list | None = None, tiers=None, **contract
) -> Customer:
    """Change the fields given; `tiers`, when given, replace the customer's tiers (checked
    against the target, old or new). Statements already frozen keep the contract they used."""
    _check_perm(actor, CHANGE_CUSTOMER, "change customers")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    for name, value in contract.items():
        setattr(customer, name, value)
    kept = [Tier(tier.below, tier.credit_percent) for tier in customer.tiers.all()]
    _validated(customer, kept if tiers is None else tiers)
    customer.save()
    if services is not None:
        customer.services.set(services)
    if tiers is not None:
        _replace_tiers(customer, tiers)
    return customer


# --- statements ---------------------------------------------------------------------------------


def _frozen(customer: Customer, figures: Figures) -> dict:
    """The statement's fields from the month's figures and the contract they applied."""
    values = asdict(figures)
    values["contract"] = {
        "outage_priorities": list(customer.outage_priorities),
        "tiers": [
            {"below": str(tier.below), "credit_percent": str(tier.credit_percent)}
            for tier in customer.tiers.all()
        ],
    }
    values.update(
        availability_target=customer.availability_target,
        monthly_fee=customer.monthly_fee,
        currency=customer.currency,
    )
    return values


def _differs(statement: CreditStatement, values: dict) -> bool:
    return any(getattr(statement, name) != values[name] for name in FROZEN_FIELDS)


@transaction.atomic
def credit_statement_freeze(
    *, customer: Customer, month: date, actor=None
) -> tuple[CreditStatement, bool]:
    """The customer's current statement for the month of `month` (which must be over),
    computed now, and whether it was written: created if there is none, left alone if the
    figures are the same, else revision n+1 superseding revision n (an approved one stays
    approved, and superseded)."""
    _check_perm(actor, RECOMPUTE_STATEMENT, "compute credit statements")
    start, end = month_bounds(month)
    now = timezone.now()
    if end > now:
        raise ValidationFailed.for_fields({"month": "The month is not over yet."})
    first_day = start.date()  # a date: a UTC midnight is another day in TIME_ZONE
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    figures = selectors.customer_month_figures(customer=customer, month=first_day)
    values = _frozen(customer, figures)
    current = selectors.current_statement(customer=customer, month=first_day)
    if current is not None and not _differs(current, values):
        return current, False
    revision = 1
    if current is not None:
        current.superseded_at = now
        current.save(update_fields=["superseded_at"])
        revision = current.revision + 1
    statement = CreditStatement.objects.create(
        customer=customer, month=first_day, revision=revision, computed_at=now, **values
    )
    logger.info("Credit statement %s (revision %s) frozen", statement.pk, revision)
    return statement, True


@transaction.atomic
def credit_statement_recompute(*, statement: CreditStatement, actor) -> CreditStatement:
    """Recompute the statement's month: the current revision, new when the figures changed.
    Only the current revision may be recomputed (409 for a superseded one)."""
    if statement.superseded_at is not None:
        raise InvalidTransition(
            f"Revision {statement.revision} was superseded: recompute the current revision."
        )
    current, _ = credit_statement_freeze(
        customer=statement.customer, month=statement.month, actor=actor
    )
    return current


@transaction.atomic
def credit_statement_approve(*, statement: CreditStatement, actor) -> CreditStatement:
    """A manager approves the current draft revision: who and when are recorded. 409 for one
    already approved or superseded."""
    _check_perm(actor, APPROVE_STATEMENT, "approve credit statements")
    statement = CreditStatement.objects.select_for_update().get(pk=statement.pk)
    if statement.superseded_at is not None:
        raise InvalidTransition(f"Revision {statement.revision} was superseded by a later one.")
    if statement.status != StatementStatus.DRAFT:
        raise InvalidTransition("The statement is approved already.")
    statement.status = StatementStatus.APPROVED
    statement.approved_by = actor
    statement.approved_at = timezone.now()
    statement.save(update_fields=["status", "approved_by", "approved_at"])
    logger.info("Credit statement %s approved by %s", statement.pk, actor)
    return statement
