"""A body field an endpoint does not take is refused, not ignored: 400 naming it (with every
other bad field), and nothing written. `"service"` for `"services"` used to log an incident with
no service."""

import pytest
import time_machine
from django.apps import apps

from incidents.models import Incident
from itsm.api.serializers import READ_ONLY, UNKNOWN
from tests.itsm.conftest import api_routes, concrete_path

WRITES = ["post", "put", "patch"]


def _row_counts() -> dict:
    """Rows of every table, history tables included: an edit adds a history row."""
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.mark.parametrize("route", api_routes())
@time_machine.travel("2026-12-03 10:00Z", tick=False)
def test_every_write_refuses_an_unknown_field_and_writes_nothing(api, super_admin, world, route):
    api.force_authenticate(super_admin)
    path = concrete_path(world, route)
    for method in WRITES:
        before = _row_counts()
        response = getattr(api, method)(path, {"no_such_field": 1}, format="json")
        if response.status_code == 405:  # the route takes no such write
            continue
        assert response.status_code == 400, f"{method} {path}: {response.content}"
        assert response.json()["error"]["fields"]["no_such_field"] == [UNKNOWN]
        assert _row_counts() == before, f"{method} {path} wrote"


def test_a_misspelt_field_logs_no_incident(api, responder, service):
    response = api.as_user(responder).post(
        "/api/incidents/",
        {"title": "Checkout down", "impact": 1, "urgency": 1, "service": service.slug},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"service": [UNKNOWN]}
    assert "service" in response.json()["error"]["message"]
    assert not Incident.objects.exists()


def test_an_unknown_field_is_named_with_the_other_bad_fields(api, responder):
    response = api.as_user(responder).post(
        "/api/incidents/", {"impact": 7, "sevrity": "high"}, format="json"
    )
    fields = response.json()["error"]["fields"]
    assert response.status_code == 400
    assert {"title", "impact", "sevrity"} <= set(fields)
    assert fields["sevrity"] == [UNKNOWN]


def test_a_read_only_field_is_refused_not_dropped(api, responder, world):
    number = world["incidents"][0]
    response = api.as_user(responder).patch(
        f"/api/incidents/{number}/", {"status": "resolved", "title": "New title"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["status"] in ([UNKNOWN], [READ_ONLY])
    assert Incident.objects.get(number=number).title != "New title"
