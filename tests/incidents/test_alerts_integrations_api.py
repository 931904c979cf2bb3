"""/api/integrations/: managers add an integration and get the key and the URL to paste."""

import pytest

from incidents.models import Integration
from itsm.api.serializers import UNKNOWN
from tests.conftest import api_error


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("alertmanager", "/api/alerts/alertmanager/{key}/"),
        ("grafana", "/api/alerts/grafana/{key}/"),
        ("pagerduty", "/api/alerts/v2/enqueue"),
    ],
)
def test_a_manager_adds_an_integration_and_gets_its_key_and_url(api, manager, service, kind, path):
    response = api.as_user(manager).post(
        "/api/integrations/",
        {"name": "Prod", "kind": kind, "service": service.slug},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    key = body["key"]
    assert len(key) == 32 and key.isalnum()
    assert body["url"] == "http://testserver" + path.format(key=key)
    assert body["service"] == "checkout"
    assert (body["on_refire"], body["on_clear"], body["active"]) == (
        "new_incident",
        "resolve",
        True,
    )
    assert "signature_secret" not in body
    assert Integration.objects.get().key == key


def test_the_url_works_with_the_key_it_gives(api, client, manager, service):
    from tests.incidents.alert_payloads import payload, post

    created = api.as_user(manager).post(
        "/api/integrations/",
        {"name": "Prod", "kind": "alertmanager", "service": service.slug},
        format="json",
    )
    url = created.json()["url"].removeprefix("http://testserver")
    assert post(client, url, payload("alertmanager_firing")).status_code == 202


def test_keys_differ(make_integration):
    keys = {make_integration(name=f"i{n}").key for n in range(5)}
    assert len(keys) == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "webhook", "service": "checkout"}, "kind"),
        ({"name": "x", "kind": "generic", "service": "checkout"}, "title_path"),
        ({"name": "x", "kind": "grafana", "service": "nope"}, "service"),
        ({"name": "x", "kind": "grafana", "service": "checkout", "key": "k" * 32}, "key"),
        ({"name": "x", "kind": "grafana", "service": "checkout", "servce": "a"}, "servce"),
        (
            {"name": "x", "kind": "grafana", "service": "checkout", "signature_header": "X-Sig"},
            "signature_secret",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, manager, service, body, field):
    fields = api_error(
        api.as_user(manager).post("/api/integrations/", body, format="json"), 400, "invalid"
    )
    assert field in fields
    assert not Integration.objects.exists()


def test_a_name_is_unique(api, manager, service, make_integration):
    make_integration(name="Prod")
    body = {"name": "Prod", "kind": "grafana", "service": service.slug}
    fields = api_error(
        api.as_user(manager).post("/api/integrations/", body, format="json"), 400, "invalid"
    )
    assert "name" in fields


def test_managers_list_them(api, manager, make_integration):
    integration = make_integration()
    [row] = api.as_user(manager).get("/api/integrations/").json()["results"]
    assert (row["name"], row["key"]) == (integration.name, integration.key)


@pytest.mark.parametrize("role", ["responder", "stakeholder"])
def test_other_roles_may_neither_add_nor_read_keys(api, request, service, role):
    client = api.as_user(request.getfixturevalue(role))
    api_error(client.get("/api/integrations/"), 403, "permission_denied")
    body = {"name": "x", "kind": "grafana", "service": service.slug}
    api_error(client.post("/api/integrations/", body, format="json"), 403, "permission_denied")


def test_an_unknown_field_is_refused(api, manager, service):
    body = {"name": "x", "kind": "grafana", "service": service.slug, "no_such_field": 1}
    fields = api_error(
        api.as_user(manager).post("/api/integrations/", body, format="json"), 400, "invalid"
    )
    assert fields["no_such_field"] == [UNKNOWN]
