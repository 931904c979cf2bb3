"""Customers and credit statements in the portal: the incident page's affected customers, and
the admin (tiers checked inline, statements approved, recomputed and exported)."""

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Incident
from postmortems.credits import services
from postmortems.models import CreditStatement, Customer
from tests.factories import ServiceFactory
from tests.postmortems.credits import AFTER_NOV, NOV, make_customer, nov, outage

pytestmark = pytest.mark.django_db

CUSTOMERS = "/admin/postmortems/customer/"
STATEMENTS = "/admin/postmortems/creditstatement/"


def _page(client, incident) -> str:
    return client.get(reverse("incidents:detail", args=[incident.number])).content.decode()


def _queries(client, incident) -> int:
    _page(client, incident)  # notes the session's activity
    with CaptureQueriesContext(connection) as queries:
        _page(client, incident)
    return len(queries)


@pytest.mark.parametrize("customers", [1, 6])
def test_the_incident_page_lists_affected_customers_in_one_query(
    client, signed_in, manager, responder, service, customers
):
    for n in range(customers):
        make_customer(f"Customer {n}", services=[service])
    make_customer("Bystander", services=[ServiceFactory(slug="billing")])
    incident = outage(responder, service, nov(10), nov(10, 1))
    without_card = _queries(signed_in(responder), incident)  # responders see no customers

    # The same page for a manager: one more query, the customers (tests/incidents/test_portal.py
    # counts the responder's page).
    assert _queries(signed_in(manager), incident) == without_card + 1
    page = _page(client, incident)
    assert "Affected customers" in page
    assert page.count("<li>Customer ") == customers
    assert "Bystander" not in page


def test_a_responder_does_not_see_customers(signed_in, responder, service):
    make_customer(services=[service])
    incident = outage(responder, service, nov(10), nov(10, 1))

    assert "Affected customers" not in _page(signed_in(responder), incident)


def _customer_form(**fields) -> dict:
    return {
        "name": "Acme",
        "active": "on",
        "availability_target": "99.95",
        "measurement_period": "monthly",
        "outage_priorities": '["P1", "P2"]',
        "monthly_fee": "1000.00",
        "currency": "EUR",
        "tiers-TOTAL_FORMS": "2",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
        "tiers-0-below": "99.0",
        "tiers-0-credit_percent": "25",
        "tiers-1-below": "99.95",
        "tiers-1-credit_percent": "10",
        **fields,
    }


def test_the_admin_adds_a_customer_with_tiers(signed_in, manager, service):
    response = signed_in(manager).post(f"{CUSTOMERS}add/", _customer_form(services=[service.pk]))

    assert response.status_code == 302, response.content.decode()
    customer = Customer.objects.get()
    assert [(str(t.below), str(t.credit_percent)) for t in customer.tiers.all()] == [
        ("99.9500", "10.00"),
        ("99.0000", "25.00"),
    ]


def test_the_admin_refuses_tiers_out_of_order(signed_in, manager):
    form = _customer_form(**{"tiers-1-credit_percent": "50"})  # 99.95 → 50 %, 99.0 → 25 %

    response = signed_in(manager).post(f"{CUSTOMERS}add/", form)

    assert response.status_code == 200
    assert "Credits must ascend" in response.content.decode()
    assert not Customer.objects.exists()


@pytest.fixture
def statement(service, responder):
    with time_machine.travel(datetime(2026, 10, 1, tzinfo=UTC), tick=False):
        customer = make_customer(services=[service])
    with time_machine.travel(AFTER_NOV, tick=False):
        outage(responder, service, nov(10, 9), nov(10, 9, 30))
        return services.credit_statement_freeze(customer=customer, month=NOV.date())[0]


def _act(client, action: str, statement):
    return client.post(STATEMENTS, {"action": action, "_selected_action": [statement.pk]})


def test_the_admin_approves_and_recomputes(signed_in, manager, statement, responder):
    client = signed_in(manager)

    approved = _act(client, "approve", statement)
    Incident.objects.update(mitigated_at=nov(10, 10))
    recomputed = _act(client, "recompute", statement)

    assert approved.status_code == recomputed.status_code == 302
    statement.refresh_from_db()
    assert (statement.status, statement.approved_by, statement.is_current) == (
        "approved",
        manager,
        False,
    )
    current = CreditStatement.objects.get(superseded_at__isnull=True)
    assert (current.revision, current.downtime_seconds) == (2, 3600)


def test_the_admin_exports_csv(signed_in, manager, statement):
    response = _act(signed_in(manager), "export_csv", statement)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    [row] = csv.DictReader(io.StringIO(response.content.decode()))
    assert (row["customer"], row["month"], row["credit_amount"]) == ("Acme", "2026-11", "100.00")


def test_statements_are_not_edited_in_the_admin(signed_in, manager, statement):
    client = signed_in(manager)

    page = client.get(f"{STATEMENTS}{statement.pk}/change/").content.decode()

    assert 'name="_save"' not in page
    assert client.get(f"{STATEMENTS}add/").status_code == 403
