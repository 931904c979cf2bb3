"""The reports page: who sees it, its tiles against targets, charts, drill-down, CSV of every
table, and a fixed number of queries."""

import csv
import io

import pytest
from django.db import connection
from django.urls import reverse

from tests.postmortems.metrics_data import more_incidents

PAGE = "/reports/"
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
TABLES = ["summary", "sla", "trend", "priority", "service", "team", "major", "source"]


def test_a_manager_sees_figures_against_targets(signed_in, manager, march):
    response = signed_in(manager).get(PAGE, MARCH, secure=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/reports/"' in html and 'aria-current="page">Reports' in html
    tiles = {f.metric: f for f in response.context["figures"]}
    assert tiles["mttd"].meets_target is True and tiles["mtta"].meets_target is False
    assert 'class="card tile meets"' in html and 'class="card tile misses"' in html
    assert "16.3 h" in html  # MTTA: 58,710 s
    assert html.count('<figure class="report-chart">') == 6 and "<polyline" in html
    assert "Revenue impact per incident" in html and "target &lt; USD 10,000" in html


def test_drill_down_links_open_the_incidents_behind_a_number(signed_in, manager, march):
    client = signed_in(manager)
    response = client.get(PAGE, MARCH, secure=True)
    search = next(
        r
        for s in response.context["slices"]
        if s["name"] == "service"
        for r in s["rows"]
        if r["label"] == "search"
    )
    assert search["logged"] == 2
    listed = client.get(search["link"], secure=True)
    assert listed.status_code == 200
    numbers = {i.number for i in listed.context["page"].object_list}
    assert numbers == {march["c"].number, march["d"].number}


@pytest.mark.parametrize("table", TABLES)
def test_every_table_exports_as_csv(signed_in, manager, march, table):
    response = signed_in(manager).get(reverse("reports:export", args=[table]), MARCH, secure=True)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows


def test_a_bad_filter_is_shown_on_the_page(signed_in, manager, db):
    response = signed_in(manager).get(PAGE, {"priority": "P9"}, secure=True)
    assert response.status_code == 400
    assert "priority" in response.context["errors"]


@pytest.mark.parametrize("role", ["responder", "stakeholder", "nobody"])
def test_other_roles_are_refused_and_see_no_link(db, signed_in, role, request):
    client = signed_in(request.getfixturevalue(role))
    assert client.get(PAGE, secure=True).status_code == 403
    assert client.get("/reports/summary.csv", secure=True).status_code == 403


def test_the_link_is_not_in_a_responders_nav(signed_in, responder):
    assert 'href="/reports/"' not in signed_in(responder).get("/", secure=True).content.decode()


def test_anonymous_goes_to_sign_in(client, db):
    response = client.get(PAGE, secure=True)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("size", [1, 10])
def test_queries_do_not_grow_with_the_data(
    signed_in, manager, responder, drive, size, django_assert_num_queries
):
    more_incidents(drive, responder, size)
    client = signed_in(manager)
    # The trend and the slices but the service are one query of the rollups and one of the
    # timers on PostgreSQL (GROUPING SETS), the service slice two: 17 in all. SQLite has no
    # GROUPING SETS: a pair per table, 25.
    with django_assert_num_queries(17 if connection.vendor == "postgresql" else 25):
        assert client.get(PAGE, MARCH, secure=True).status_code == 200


def test_the_form_sent_as_it_stands_shows_the_figures(signed_in, manager, march):
    """The form sends "Any" and unset dates as empty values: they mean no filter."""
    blank = {name: "" for name in ("from", "to", "priority", "service", "team", "source")}
    response = signed_in(manager).get(PAGE, blank, secure=True)
    assert response.status_code == 200
    assert not response.context.get("errors")
