"""Each integration takes at most `rate_limit` requests per 5 minutes (300 by default, as
Grafana OnCall); more are answered 429, change nothing, and are kept as throttled."""

import pytest
import time_machine

from incidents.choices import PayloadOutcome
from incidents.models import Alert, AlertGroup, Integration, ReceivedPayload
from tests.conftest import api_error
from tests.incidents.alert_payloads import payload, post

START = "2026-12-03 10:00:00Z"


def test_the_default_is_300_requests_per_5_minutes(make_integration):
    assert make_integration().rate_limit == 300


def test_over_the_limit_is_429_and_changes_nothing(client, make_integration):
    integration = make_integration(rate_limit=2)
    url = f"/api/alerts/alertmanager/{integration.key}/"
    with time_machine.travel(START, tick=False):
        assert post(client, url, payload("alertmanager_firing")).status_code == 202
        assert post(client, url, payload("alertmanager_firing")).status_code == 202
        response = post(client, url, payload("alertmanager_resolved"))

    api_error(response, 429, "throttled")
    assert response["Retry-After"] == "300"
    group = AlertGroup.objects.get()
    assert (group.firing_count, group.received_count) == (2, 2)
    assert set(Alert.objects.values_list("status", flat=True)) == {"firing"}
    outcomes = ReceivedPayload.objects.order_by("pk").values_list("outcome", flat=True)
    assert list(outcomes) == ["accepted", "accepted", PayloadOutcome.THROTTLED]


def test_the_next_window_takes_requests_again(client, make_integration):
    integration = make_integration(rate_limit=1)
    url = f"/api/alerts/alertmanager/{integration.key}/"
    with time_machine.travel(START, tick=False) as traveller:
        assert post(client, url, payload("alertmanager_firing")).status_code == 202
        traveller.shift(240)
        response = post(client, url, payload("alertmanager_firing"))
        assert response.status_code == 429
        assert response["Retry-After"] == "60"
        traveller.shift(60)
        assert post(client, url, payload("alertmanager_firing")).status_code == 202


def test_each_integration_has_its_own_limit(client, make_integration):
    first = make_integration(rate_limit=1, name="first")
    second = make_integration(rate_limit=1, name="second")
    with time_machine.travel(START, tick=False):
        for integration in (first, second):
            url = f"/api/alerts/alertmanager/{integration.key}/"
            assert post(client, url, payload("alertmanager_firing")).status_code == 202


def test_pagerduty_answers_its_own_429(client, make_integration):
    integration = make_integration("pagerduty", rate_limit=1)
    event = payload("pagerduty_trigger", routing_key=integration.key)
    with time_machine.travel(START, tick=False):
        assert post(client, "/api/alerts/v2/enqueue", event).status_code == 202
        response = post(client, "/api/alerts/v2/enqueue", event)

    assert response.status_code == 429
    assert response.json() == {
        "status": "throttle exceeded",
        "message": "Requests for this service are arriving too quickly.  Please retry later.",
    }
    assert AlertGroup.objects.get().received_count == 1


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_refused(api, manager, service, limit):
    response = api.as_user(manager).post(
        "/api/integrations/",
        {"name": "Prod", "kind": "grafana", "service": service.slug, "rate_limit": limit},
        format="json",
    )
    assert "rate_limit" in api_error(response, 400, "invalid")
    assert not Integration.objects.exists()
