"""One error shape for every API failure: {"error": {"code", "message", "fields"}}."""

import pytest

from itsm.errors import InvalidTransition, ValidationFailed
from tests.conftest import api_error


@pytest.fixture
def client(api, responder):
    return api.as_user(responder)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/incidents/{number}/"),
        ("put", "/api/incidents/{number}/"),
        ("delete", "/api/services/checkout/"),
        ("post", "/api/incidents/{number}/timeline/"),
        ("get", "/api/incidents/{number}/acknowledge/"),
        ("options", "/api/incidents/"),
    ],
)
def test_unsupported_method_is_405(client, incident, method, path):
    response = getattr(client, method)(path.format(number=incident.number))

    api_error(response, 405, "method_not_allowed")
    incident.refresh_from_db()
    assert incident.status == "new"


def test_401_uses_the_shape(api):
    response = api.get("/api/incidents/")

    api_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_403_uses_the_shape(api, stakeholder, incident):
    response = api.as_user(stakeholder).post(
        f"/api/incidents/{incident.number}/acknowledge/", {}, format="json"
    )

    api_error(response, 403, "permission_denied")


def test_404_uses_the_shape(client):
    api_error(client.get("/api/incidents/INC0000404/"), 404, "not_found")


def test_409_uses_the_shape(client, incident):
    response = client.post(f"/api/incidents/{incident.number}/start/", {}, format="json")

    api_error(response, 409, "invalid_transition")


def test_400_names_each_field_with_a_list_of_messages(client):
    response = client.post("/api/incidents/", {"priority": "P9"}, format="json")

    fields = api_error(response, 400, "invalid")
    assert set(fields) == {"title", "priority"}
    assert all(isinstance(messages, list) for messages in fields.values())


def test_415_uses_the_shape(client):
    response = client.post("/api/incidents/", "title=x", content_type="text/plain")

    api_error(response, 415, "unsupported_media_type")


def test_validation_failed_lists_every_field():
    error = ValidationFailed.for_fields({"reason": "Required.", "note": ["Too long.", "Odd."]})

    assert error.status == 400
    assert error.as_dict() == {
        "error": {
            "code": "invalid",
            "message": "Invalid input: note, reason.",
            "fields": {"reason": ["Required."], "note": ["Too long.", "Odd."]},
        }
    }


def test_invalid_transition_is_a_409():
    error = InvalidTransition("Cannot start INC0000001: it is new.")

    assert error.status == 409
    assert error.as_dict()["error"] == {
        "code": "invalid_transition",
        "message": "Cannot start INC0000001: it is new.",
        "fields": {},
    }
