"""Input no database can store, or no parser can read, gets a 400 (or the admin's own error
page) everywhere, not only in the war room: the checks live in the shared layers."""

import pytest

from incidents import services
from incidents.choices import ChangeSource
from incidents.models import Incident
from itsm.errors import ValidationFailed
from tests.conftest import api_error


@pytest.mark.parametrize("bad", ["nul \x00 byte", "lone \ud800 surrogate"])
def test_a_service_refuses_text_it_could_not_store(responder, bad):
    with pytest.raises(ValidationFailed) as refused:
        services.incident_create(
            actor=responder, source=ChangeSource.CLI, title=bad, impact=2, urgency=2
        )
    assert "title" in refused.value.fields
    assert not Incident.objects.exists()


def test_json_nested_too_deep_is_a_bad_request_on_every_endpoint(api, responder):
    body = "[" * 100_000 + "]" * 100_000
    response = api.as_user(responder).post("/api/incidents/", body, content_type="application/json")
    api_error(response, 400, "invalid")
    assert not Incident.objects.exists()


def test_an_incident_admin_list_filtered_by_a_nul_is_not_a_server_error(client, super_admin):
    client.force_login(super_admin)
    response = client.get("/admin/incidents/incident/", {"status": "new\x00"})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
