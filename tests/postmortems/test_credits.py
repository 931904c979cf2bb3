"""Customers' monthly SLA credits from real incidents: what counts as outage, the frozen
statements, their approval and revisions, and the monthly job."""

from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from incidents.models import Incident
from itsm.errors import InvalidTransition, PermissionDeniedError, ValidationFailed
from postmortems.credits import selectors, services
from postmortems.credits.tasks import completed_months, freeze_credit_statements
from postmortems.models import CreditStatement, Customer
from tests.concurrency import all_succeed
from tests.factories import ServiceFactory
from tests.postmortems.credits import AFTER_NOV, NOV, TIERS, make_customer, nov, outage

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(AFTER_NOV, tick=False) as traveller:
        yield traveller


@pytest.fixture
def acme(clock, service):
    """A customer since October 2026."""
    with time_machine.travel(datetime(2026, 10, 1, tzinfo=UTC), tick=False):
        return make_customer(services=[service])


def _november(customer):
    return selectors.customer_month_figures(customer=customer, month=NOV.date())


def test_the_issue_example_on_real_incidents(clock, acme, service, responder):
    outage(responder, service, nov(10, 9), nov(10, 9, 30))
    outage(responder, service, nov(10, 9, 10), nov(10, 9, 20))  # inside the first

    result = _november(acme)

    assert result.downtime_seconds == 1800
    assert f"{result.availability:.2f}" == "99.93"
    assert result.breached
    assert (result.credit_percent, result.credit_amount) == (Decimal("10"), Decimal("100.00"))
    assert len(result.incidents) == 2


def test_what_counts_as_outage(clock, acme, service, responder):
    other = ServiceFactory(slug="billing")
    outage(responder, service, nov(3), nov(3, 1), priority="P3")  # not an outage priority
    outage(responder, other, nov(4), nov(4, 1))  # a service Acme does not use
    outage(responder, service, nov(5), None, status="cancelled")  # logged in error
    resolved = outage(responder, service, nov(6), None, status="resolved", resolved_at=nov(6, 0, 5))
    p2 = outage(responder, service, nov(7), nov(7, 0, 10), priority="P2")

    result = _november(acme)

    assert [row["number"] for row in result.incidents] == [resolved.number, p2.number]
    assert result.downtime_seconds == 15 * 60


def test_outage_priorities_are_per_contract(clock, service, responder):
    strict = make_customer("Strict", services=[service], outage_priorities=["P1", "P2", "P3"])
    outage(responder, service, nov(3), nov(3, 1), priority="P3")

    assert _november(strict).downtime_seconds == 3600


def test_a_customer_not_using_the_service_is_unaffected(clock, acme, service, responder):
    bystander = make_customer("Bystander", services=[ServiceFactory(slug="billing")])
    outage(responder, service, nov(10), nov(10, 5))

    assert _november(bystander).downtime_seconds == 0
    assert _november(acme).downtime_seconds == 5 * 3600


def test_an_open_incident_counts_until_the_month_end(clock, acme, service, responder):
    outage(responder, service, nov(30, 20), None, status="investigating")

    assert _november(acme).downtime_seconds == 4 * 3600


def test_the_month_costs_one_query_whatever_the_incidents(
    clock, acme, service, responder, django_assert_num_queries
):
    for day in range(1, 11):
        outage(responder, service, nov(day), nov(day, 0, 1))
    customer = selectors.customer_queryset().get(pk=acme.pk)

    with django_assert_num_queries(1):  # the tiers are prefetched: the windows only
        assert len(_november(customer).incidents) == 10


def test_bad_tiers_are_refused_naming_the_field(service):
    with pytest.raises(ValidationFailed) as refused:
        make_customer(tiers=list(reversed(TIERS)))

    assert "tiers" in refused.value.fields
    assert not Customer.objects.exists()


# --- statements -------------------------------------------------------------------------------


def _freeze(customer, month=NOV):
    statement, _ = services.credit_statement_freeze(customer=customer, month=month.date())
    return statement


def test_a_statement_freezes_the_figures_and_the_incidents(clock, acme, service, responder):
    incident = outage(responder, service, nov(10, 9), nov(10, 9, 30))

    statement = _freeze(acme)

    assert (statement.month, statement.revision, statement.status) == (
        date(2026, 11, 1),
        1,
        "draft",
    )
    assert statement.availability == Decimal("99.9305")
    assert statement.breached and statement.credit_amount == Decimal("100.00")
    assert statement.incidents[0]["number"] == incident.number
    assert statement.incidents[0]["counted_until"] == "2026-11-10T09:30:00Z"
    assert statement.contract["tiers"][0] == {"below": "99.9500", "credit_percent": "10.00"}


def test_freezing_twice_makes_one_statement(clock, acme, service, responder):
    outage(responder, service, nov(10, 9), nov(10, 9, 30))

    first, written = services.credit_statement_freeze(customer=acme, month=NOV.date())
    again, written_again = services.credit_statement_freeze(customer=acme, month=NOV.date())

    assert (written, written_again) == (True, False)
    assert first.pk == again.pk
    assert CreditStatement.objects.count() == 1


def test_the_month_is_utc_whatever_the_time_zone(clock, acme, service, responder, settings):
    settings.TIME_ZONE = "America/New_York"
    outage(responder, service, nov(1), nov(1, 1))  # 31 October in New York

    statement = _freeze(acme)

    assert (statement.month, statement.downtime_seconds) == (date(2026, 11, 1), 3600)
    assert _freeze(acme).pk == statement.pk


def test_a_month_not_over_is_refused(clock, acme):
    with pytest.raises(ValidationFailed) as refused:
        services.credit_statement_freeze(customer=acme, month=date(2026, 12, 1))
    assert "month" in refused.value.fields


def test_approval_records_who_and_when(clock, acme, manager):
    statement = _freeze(acme)

    approved = services.credit_statement_approve(statement=statement, actor=manager)

    assert approved.status == "approved"
    assert (approved.approved_by, approved.approved_at) == (manager, AFTER_NOV)
    with pytest.raises(InvalidTransition):
        services.credit_statement_approve(statement=statement, actor=manager)


def test_a_responder_may_not_approve(clock, acme, responder):
    with pytest.raises(PermissionDeniedError):
        services.credit_statement_approve(statement=_freeze(acme), actor=responder)


def test_an_approved_statement_stays_and_a_revision_supersedes_it(
    clock, acme, service, responder, manager
):
    incident = outage(responder, service, nov(10, 9), nov(10, 9, 30))
    approved = services.credit_statement_approve(statement=_freeze(acme), actor=manager)
    clock.move_to(datetime(2026, 12, 5, tzinfo=UTC))
    Incident.objects.filter(pk=incident.pk).update(mitigated_at=nov(10, 18))  # nine hours, now

    revision = services.credit_statement_recompute(statement=approved, actor=manager)

    approved.refresh_from_db()
    assert (approved.status, approved.downtime_seconds, approved.revision) == ("approved", 1800, 1)
    assert approved.superseded_at == datetime(2026, 12, 5, tzinfo=UTC)
    assert (revision.revision, revision.status, revision.downtime_seconds) == (2, "draft", 9 * 3600)
    assert revision.credit_percent == Decimal("25")
    with pytest.raises(InvalidTransition):
        services.credit_statement_approve(statement=approved, actor=manager)
    with pytest.raises(InvalidTransition):
        services.credit_statement_recompute(statement=approved, actor=manager)


def test_a_recompute_with_the_same_figures_writes_nothing(clock, acme, service, responder, manager):
    outage(responder, service, nov(10, 9), nov(10, 9, 30))
    statement = services.credit_statement_approve(statement=_freeze(acme), actor=manager)

    again = services.credit_statement_recompute(statement=statement, actor=manager)

    assert again.pk == statement.pk
    assert CreditStatement.objects.count() == 1


def test_a_changed_draft_is_superseded_too(clock, acme, service, responder, manager):
    draft = _freeze(acme)
    outage(responder, service, nov(10, 9), nov(10, 9, 30))  # logged late

    revision = services.credit_statement_recompute(statement=draft, actor=manager)

    draft.refresh_from_db()
    assert (draft.status, draft.is_current, draft.downtime_seconds) == ("draft", False, 0)
    assert (revision.revision, revision.downtime_seconds) == (2, 1800)


def test_a_contract_change_makes_a_revision(clock, acme, manager):
    statement = _freeze(acme)
    services.customer_update(customer=acme, actor=manager, monthly_fee=Decimal("2000.00"))

    revision = services.credit_statement_recompute(statement=statement, actor=manager)

    assert (revision.revision, revision.monthly_fee) == (2, Decimal("2000.00"))


# --- the monthly job -----------------------------------------------------------------------------


def test_completed_months_are_the_ones_before_this_month():
    assert completed_months(date(2027, 1, 1)) == [
        date(2026, 10, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]


def test_the_job_freezes_each_active_customers_months_once(clock, service, responder):
    with time_machine.travel(datetime(2026, 10, 20, tzinfo=UTC), tick=False):
        acme = make_customer(services=[service])
        make_customer("Gone", active=False, services=[service])
    outage(responder, service, nov(10, 9), nov(10, 9, 30))

    assert freeze_credit_statements() == 2  # October (a customer from the 20th) and November
    assert freeze_credit_statements() == 0

    rows = CreditStatement.objects.order_by("month").values_list("customer", "month", "breached")
    assert list(rows) == [(acme.pk, date(2026, 10, 1), False), (acme.pk, date(2026, 11, 1), True)]


def test_the_next_run_revises_a_month_an_incident_changed(clock, acme, service, responder):
    incident = outage(responder, service, nov(10, 9), nov(10, 9, 30))
    freeze_credit_statements()
    Incident.objects.filter(pk=incident.pk).update(started_at=nov(10, 8, 30))

    assert freeze_credit_statements() == 1

    current = CreditStatement.objects.get(month=NOV, superseded_at__isnull=True)
    assert (current.revision, current.downtime_seconds) == (2, 3600)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_runs_make_one_statement(service, responder):
    with time_machine.travel(datetime(2026, 10, 1, tzinfo=UTC), tick=False):
        customer = make_customer(services=[service])
    with time_machine.travel(AFTER_NOV, tick=False):
        outage(responder, service, nov(10, 9), nov(10, 9, 30))

        outcomes = all_succeed(*[freeze_credit_statements] * 4)

    assert sorted(outcomes) == [0, 0, 0, 2]  # October and November, by one run
    assert CreditStatement.objects.filter(customer=customer).count() == 2


def test_affected_customers_of_an_incident(
    clock, acme, service, responder, django_assert_num_queries
):
    make_customer("Bystander", services=[ServiceFactory(slug="billing")])
    make_customer("Lapsed", active=False, services=[service])
    make_customer("Beta", services=[service, ServiceFactory(slug="search")])
    incident = outage(responder, service, nov(10), nov(10, 1))

    with django_assert_num_queries(1):
        names = [customer.name for customer in selectors.affected_customers(incident)]

    assert names == ["Acme", "Beta"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@override_settings(DEBUG=True)
def test_the_demo_has_customers_with_statements():
    call_command("seed_demo", stdout=StringIO())

    assert Customer.objects.count() == 2
    # Customers since 100 days ago: the three completed months the job covers, each.
    assert CreditStatement.objects.filter(revision=1).count() == 6
