"""The incident page's "Alerts" card: each alert group with its counts and times, and its
alerts' main labels, status and source link; text from the sender is shown escaped."""

import pytest

from incidents.models import AlertGroup
from tests.incidents.alert_payloads import payload, post
from tests.incidents.test_alerts_api import _fire

# As tests/incidents/test_portal.py counts the page (20, its alerts included), less the people
# named in the history's diffs: the system opened this incident, so its history names nobody.
PAGE_QUERIES = 19


@pytest.fixture
def prometheus(make_integration):
    return make_integration(name="Prometheus")


def _page(signed_in, user, incident) -> str:
    response = signed_in(user).get(incident.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def _firing(client, integration, **alert_changes) -> AlertGroup:
    body = payload("alertmanager_firing")
    body["alerts"][0] = {**body["alerts"][0], **alert_changes}
    assert post(client, f"/api/alerts/alertmanager/{integration.key}/", body).status_code == 202
    return AlertGroup.objects.get()


def test_the_page_shows_the_incidents_alerts(client, signed_in, stakeholder, prometheus):
    group = _firing(client, prometheus)

    html = _page(signed_in, stakeholder, group.incident)

    assert '<h2 id="alerts-title">Alerts</h2>' in html
    assert "Prometheus (Prometheus Alertmanager)" in html
    assert "Checkout error rate above 10%" in html
    assert "2 of 2 firing" in html and "received 1 time ·" in html
    assert "first seen <time" in html and "last seen <time" in html
    assert html.count('<span class="alert-label">CheckoutHighErrorRate</span>') == 2
    assert "severity=critical" in html and "instance=checkout-2:8080" in html
    assert html.count('rel="noopener noreferrer">source</a>') == 2
    assert 'href="http://prometheus.example.com:9090/graph?g0.expr=' in html


def test_label_values_are_escaped_and_only_web_addresses_linked(
    client, signed_in, responder, prometheus
):
    labels = {"alertname": "<script>alert(1)</script>", "severity": '"><img src=x>'}
    group = _firing(client, prometheus, labels=labels, generatorURL="javascript:alert(1)")

    html = _page(signed_in, responder, group.incident)

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert "&quot;&gt;&lt;img src=x&gt;" in html
    assert "javascript:alert(1)" not in html
    assert html.count(">source</a>") == 1  # the second alert's address only


def test_a_large_group_lists_twenty_alerts_firing_first_and_counts_the_rest(
    signed_in, responder, prometheus
):
    group = _fire(prometheus, "disk", alerts=25)
    _fire(prometheus, "disk", alerts=3, status="resolved")  # host-0..2 resolve

    html = _page(signed_in, responder, group.incident)

    assert html.count('<span class="chip status-firing">Firing</span>') == 1 + 20  # group + 20
    assert "and 5 more" in html
    assert "22 of 25 firing" in html


def test_an_incident_without_alerts_has_no_card(signed_in, responder, incident):
    assert 'id="alerts-title"' not in _page(signed_in, responder, incident)


@pytest.mark.parametrize("groups", [1, 4])
def test_the_alerts_cost_one_query_however_many(
    signed_in, responder, make_integration, django_assert_num_queries, groups
):
    integration = make_integration(name="Mitigating", on_clear="mitigate")
    first = _fire(integration, "disk", alerts=30)
    for _ in range(groups - 1):  # each firing after a clear is a new group of the open incident
        _fire(integration, "disk", alerts=30, status="resolved")
        _fire(integration, "disk", alerts=30)
    client = signed_in(responder)

    with django_assert_num_queries(PAGE_QUERIES):
        html = client.get(first.incident.get_absolute_url()).content.decode()

    assert html.count('class="alert-group"') == groups
    assert html.count("and 10 more") == groups
