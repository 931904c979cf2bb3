"""The metrics API: who reads it, its parameters, its CSV, and its constant query count."""

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine

from tests.conftest import api_error
from tests.postmortems.metrics_data import more_incidents

SUMMARY = "/api/metrics/summary/"
TIMESERIES = "/api/metrics/timeseries/"
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def get(api, user, url, **params):
    return api.as_user(user).get(url, params, secure=True)


def by_metric(body) -> dict:
    return {row["metric"]: row for row in body["metrics"]}


def test_a_manager_reads_the_summary_against_targets(api, manager, march):
    body = get(api, manager, SUMMARY, **MARCH).json()
    assert body["from"] == "2026-03-01"
    mtta = by_metric(body)["mtta"]
    assert (mtta["value"], mtta["n"], mtta["excluded"], mtta["target"]) == (58710, 4, 3, 300)
    assert mtta["meets_target"] is False
    assert {
        "priority": "P3",
        "kind": "acknowledge",
        "met": 0,
        "breached": 1,
        "due": 1,
        "compliance": 0.0,
    } in body["sla"]


@pytest.mark.parametrize("role", ["super_admin", "it_leader"])
def test_super_admins_and_it_leadership_read_it(api, role, request, march):
    assert get(api, request.getfixturevalue(role), SUMMARY, **MARCH).status_code == 200


@pytest.mark.parametrize("role", ["responder", "stakeholder", "nobody"])
def test_other_roles_are_refused(api, role, request):
    response = get(api, request.getfixturevalue(role), SUMMARY)
    api_error(response, 403, "permission_denied")


def test_anonymous_is_refused(client, db):
    assert client.get(SUMMARY, secure=True).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
        ({"priority": "P9"}, "priority"),
        ({"service": "nope"}, "service"),
        ({"team": "nope"}, "team"),
        ({"major": "maybe"}, "major"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"interval": "day"}, "interval"),
        ({"colour": "red"}, "colour"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(api, manager, params, field):
    fields = api_error(get(api, manager, SUMMARY, **params), 400, "invalid")
    assert field in fields


def test_a_bad_parameter_is_json_even_when_csv_was_asked(api, manager):
    response = get(api, manager, SUMMARY, format="csv", priority="P9")
    assert response["Content-Type"].startswith("application/json")
    assert "priority" in api_error(response, 400, "invalid")


def test_timeseries_needs_a_known_metric(api, manager):
    assert "metric" in api_error(get(api, manager, TIMESERIES), 400, "invalid")
    fields = api_error(get(api, manager, TIMESERIES, metric="pir_on_time"), 400, "invalid")
    assert "metric" in fields


def test_timeseries_by_week_and_month(api, manager, march):
    body = get(api, manager, TIMESERIES, metric="mttr_resolve", **MARCH).json()
    assert body["interval"] == "week"
    assert [(p["bucket"], p["value"], p["n"]) for p in body["points"]] == [("2026-03-02", 3000, 3)]
    monthly = get(api, manager, TIMESERIES, metric="mtta", interval="month", **MARCH).json()
    assert [(p["bucket"], p["value"]) for p in monthly["points"]] == [("2026-03-01", 58710)]


def parse_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_summary_as_csv_by_accept_header_or_format(api, manager, march):
    client = api.as_user(manager)
    by_header = parse_csv(client.get(SUMMARY, MARCH, secure=True, HTTP_ACCEPT="text/csv"))
    by_format = parse_csv(client.get(SUMMARY, {**MARCH, "format": "csv"}, secure=True))
    assert by_header == by_format
    rows = {row["metric"]: row for row in by_header}
    assert rows["false_positive_rate"]["value"] == "14.29"
    assert rows["mttr_resolve"]["excluded"] == "4"


def test_timeseries_as_csv(api, manager, march):
    rows = parse_csv(get(api, manager, TIMESERIES, metric="mtta", format="csv", **MARCH))
    assert [(r["bucket"], r["value"]) for r in rows] == [("2026-03-02", "58710.0")]


# Token, user, permissions and the token's use, then the metrics: targets, the incidents'
# aggregate, SLA timers, action items, reviews (summary); incidents and timers by bucket
# (timeseries).
@pytest.mark.parametrize("size", [1, 12])
@pytest.mark.parametrize(
    ("url", "params", "queries"),
    [(SUMMARY, MARCH, 10), (TIMESERIES, {**MARCH, "metric": "mtta"}, 8)],
)
def test_queries_do_not_grow_with_the_data(
    api, manager, responder, drive, size, url, params, queries, django_assert_num_queries
):
    more_incidents(drive, responder, size)
    client = api.as_user(manager)
    with django_assert_num_queries(queries):
        response = client.get(url, params, secure=True)
        assert response.status_code == 200


def test_revenue_impact_over_time_and_its_total_in_the_csv(api, manager, march):
    client = api.as_user(manager)
    with time_machine.travel(datetime(2026, 3, 3, 9, tzinfo=UTC), tick=False):
        for name, amount in (("a", "15000"), ("c", "3000")):
            created = client.post(f"/api/incidents/{march[name].number}/postmortem/", secure=True)
            assert created.status_code == 201
            edited = client.patch(
                f"/api/incidents/{march[name].number}/postmortem/",
                {"revenue_impact": amount},
                format="json",
                secure=True,
            )
            assert edited.status_code == 200, edited.content
    body = get(api, manager, TIMESERIES, metric="revenue_impact", **MARCH).json()
    point = body["points"][0]
    assert (point["unit"], point["value"], point["total"], point["n"]) == (
        "currency",
        9000,
        18000,
        2,
    )
    rows = {r["metric"]: r for r in parse_csv(get(api, manager, SUMMARY, format="csv", **MARCH))}
    assert (rows["revenue_impact"]["total"], rows["revenue_impact"]["meets_target"]) == (
        "18000.0",
        "True",
    )
