"""The customer and credit-statement API: roles, bodies, filters, approval, CSV."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from incidents.models import Incident
from postmortems.credits import services
from postmortems.models import CreditStatement, Customer
from tests.conftest import api_error
from tests.postmortems.credits import AFTER_NOV, NOV, make_customer, nov, outage

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/customers/"
STATEMENTS = "/api/credits/statements/"
AUTH = 1  # the token with its user; the permissions are cached (itsm/permission_cache.py)


@pytest.fixture
def clock():
    with time_machine.travel(AFTER_NOV, tick=False) as traveller:
        yield traveller


def _body(**fields) -> dict:
    return {
        "name": "Acme",
        "services": ["checkout"],
        "availability_target": "99.95",
        "tiers": [
            {"below": "99.95", "credit_percent": "10"},
            {"below": "99.0", "credit_percent": "25"},
        ],
        "monthly_fee": "1000.00",
        "currency": "EUR",
        **fields,
    }


def test_a_manager_adds_a_customer(api, manager, service):
    response = api.as_user(manager).post(CUSTOMERS, _body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["services"] == ["checkout"]
    assert body["outage_priorities"] == ["P1", "P2"]
    assert body["measurement_period"] == "monthly"
    assert [tier["below"] for tier in body["tiers"]] == ["99.9500", "99.0000"]
    assert body["availability_target"] == "99.9500"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (
            {
                "tiers": [
                    {"below": "99.0", "credit_percent": "10"},
                    {"below": "99.5", "credit_percent": "25"},
                ]
            },
            "tiers",
        ),
        (
            {
                "tiers": [
                    {"below": "99.9", "credit_percent": "25"},
                    {"below": "99.0", "credit_percent": "10"},
                ]
            },
            "tiers",
        ),
        ({"tiers": [{"below": "99.9", "credit_percent": "125"}]}, "tiers"),
        ({"availability_target": "100.5"}, "availability_target"),
        ({"outage_priorities": []}, "outage_priorities"),
        ({"outage_priorities": ["P9"]}, "outage_priorities"),
        ({"currency": "eur"}, "currency"),
        ({"services": ["nope"]}, "services"),
        ({"measurement_period": "weekly"}, "measurement_period"),
    ],
)
def test_a_bad_contract_is_a_400_naming_the_field(api, manager, service, fields, named):
    response = api.as_user(manager).post(CUSTOMERS, _body(**fields), format="json")

    assert named in api_error(response, 400, "invalid")
    assert not Customer.objects.exists()


def test_a_duplicate_name_is_a_400(api, manager, service):
    make_customer()

    response = api.as_user(manager).post(CUSTOMERS, _body(), format="json")

    assert "name" in api_error(response, 400, "invalid")


def test_a_patch_changes_the_target_and_checks_the_tiers_against_it(api, manager, service):
    customer = make_customer(services=[service])
    client = api.as_user(manager)

    lowered = client.patch(f"{CUSTOMERS}{customer.pk}/", {"availability_target": "99.9"})
    raised = client.patch(
        f"{CUSTOMERS}{customer.pk}/",
        {"availability_target": "99.99", "tiers": [{"below": "99.99", "credit_percent": "5"}]},
        format="json",
    )

    assert "tiers" in api_error(lowered, 400, "invalid")  # 99.95 % is now above the target
    assert raised.status_code == 200, raised.content
    assert raised.json()["tiers"] == [{"below": "99.9900", "credit_percent": "5.00"}]


@pytest.mark.parametrize("role", ["responder", "stakeholder"])
def test_only_managers_see_customers_and_statements(api, request, role, service):
    client = api.as_user(request.getfixturevalue(role))

    for path in (CUSTOMERS, STATEMENTS):
        api_error(client.get(path), 403, "permission_denied")
    api_error(client.post(CUSTOMERS, _body(), format="json"), 403, "permission_denied")


def test_anonymous_is_refused(api):
    assert api.get(STATEMENTS).status_code == 401


@pytest.fixture
def november(clock, service, responder):
    """Acme (a customer since October) and Beta, frozen for November; Acme had 30 min of P1."""
    with time_machine.travel(datetime(2026, 10, 1, tzinfo=UTC), tick=False):
        acme = make_customer(services=[service])
        beta = make_customer("=Beta", services=[service], outage_priorities=["P3"])
    outage(responder, service, nov(10, 9), nov(10, 9, 30))
    return [
        services.credit_statement_freeze(customer=customer, month=NOV.date())[0]
        for customer in (acme, beta)
    ]


def test_statements_list_with_filters(api, manager, november, django_assert_num_queries):
    acme, _ = november
    client = api.as_user(manager)
    client.get(STATEMENTS)  # the token's first use is recorded once

    with django_assert_num_queries(AUTH + 2):  # the count; the page with customers, approvers
        everything = client.get(STATEMENTS).json()
    one = client.get(STATEMENTS, {"customer": acme.customer_id, "month": "2026-11"}).json()
    other_month = client.get(STATEMENTS, {"month": "2026-10"}).json()

    assert everything["count"] == 2
    [row] = one["results"]
    assert (row["month"], row["availability"], row["breached"]) == ("2026-11", "99.9305", True)
    assert (row["credit_percent"], row["credit_amount"], row["currency"]) == (
        "10.00",
        "100.00",
        "EUR",
    )
    assert row["incidents"][0]["counted_from"] == "2026-11-10T09:00:00Z"
    assert other_month["count"] == 0
    api_error(client.get(STATEMENTS, {"month": "November"}), 400, "invalid")


def test_a_manager_approves_once(api, manager, november):
    acme, _ = november
    client = api.as_user(manager)

    approved = client.post(f"{STATEMENTS}{acme.pk}/approve/")
    again = client.post(f"{STATEMENTS}{acme.pk}/approve/")

    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_by"]["username"] == manager.username
    assert approved.json()["approved_at"] == "2026-12-01T03:00:00Z"
    api_error(again, 409, "invalid_transition")


def test_recompute_after_an_edit_makes_a_revision(api, manager, november, clock):
    acme, _ = november
    client = api.as_user(manager)
    client.post(f"{STATEMENTS}{acme.pk}/approve/")
    [incident] = acme.incidents
    Incident.objects.filter(number=incident["number"]).update(mitigated_at=nov(10, 9, 40))

    revised = client.post(f"{STATEMENTS}{acme.pk}/recompute/").json()
    old = client.get(f"{STATEMENTS}{acme.pk}/").json()

    assert (revised["revision"], revised["status"], revised["downtime_seconds"]) == (
        2,
        "draft",
        2400,
    )
    assert (old["status"], old["current"], old["downtime_seconds"]) == ("approved", False, 1800)
    assert client.get(STATEMENTS, {"current": "true"}).json()["count"] == 2
    api_error(client.post(f"{STATEMENTS}{acme.pk}/recompute/"), 409, "invalid_transition")


def test_approve_takes_no_body(api, manager, november):
    response = api.as_user(manager).post(
        f"{STATEMENTS}{november[0].pk}/approve/", {"status": "approved"}, format="json"
    )

    assert "status" in api_error(response, 400, "invalid")
    assert CreditStatement.objects.filter(status="approved").count() == 0


@pytest.mark.parametrize("how", [{"format": "csv"}, {}])
def test_statements_as_csv(api, manager, november, how):
    client = api.as_user(manager)
    headers = {} if how else {"HTTP_ACCEPT": "text/csv"}

    response = client.get(STATEMENTS, {"month": "2026-11", **how}, **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(row["customer"], row["credit_amount"], row["breached"]) for row in rows] == [
        ("'=Beta", "0.00", "no"),  # a formula is neutralised
        ("Acme", "100.00", "yes"),
    ]
    assert rows[1]["incidents"] == november[0].incidents[0]["number"]
    assert Decimal(rows[1]["availability_percent"]) == Decimal("99.9305")


def test_a_bad_filter_in_csv_is_a_json_error(api, manager, november):
    response = api.as_user(manager).get(STATEMENTS, {"format": "csv", "month": "x"})

    assert response["Content-Type"] == "application/json"
    api_error(response, 400, "invalid")


@pytest.mark.parametrize("customer", ["99999999999999999999999", "0"])
def test_a_customer_id_out_of_range_is_a_400(api, manager, customer):
    response = api.as_user(manager).get(STATEMENTS, {"customer": customer})
    assert "customer" in api_error(response, 400, "invalid")
