"""What Django itself answers, rather than a view: a body too large to read, an unexpected
exception. Under /api/ it is the API's JSON error shape, 500 included, with a request id that
is also in the error's log line; the portal keeps its pages. Every answer names its request id
in X-Request-ID."""

import logging

import pytest
from rest_framework.test import APIClient

from incidents import selectors
from incidents.api.views import IncidentViewSet
from incidents.models import Incident
from itsm.request_id import RequestIdLogFilter
from tests.conftest import api_error

TEN_MB = "x" * 10_000_000


@pytest.fixture
def failing_client(db):
    """A client that answers a view's exception as a browser gets it, instead of raising it."""
    return APIClient(raise_request_exception=False)


def _fail(*args, **kwargs):
    raise RuntimeError("the database fell over")


@pytest.fixture
def broken_incident_list(monkeypatch):
    monkeypatch.setattr(IncidentViewSet, "list", _fail)


def test_a_body_over_the_upload_limit_is_a_json_400(api, responder):
    body = '{"title": "' + TEN_MB + '", "priority": "P3"}'

    response = api.as_user(responder).post("/api/incidents/", body, content_type="application/json")

    api_error(response, 400, "invalid")
    assert "request body" in response.json()["error"]["message"]
    assert not Incident.objects.exists()


def test_an_unexpected_exception_is_a_json_500_with_a_logged_request_id(
    failing_client, responder, broken_incident_list, caplog
):
    failing_client.force_authenticate(responder)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = failing_client.get("/api/incidents/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["code"], error["fields"]) == ("server_error", {})
    assert error["request_id"] == response["X-Request-ID"]
    [logged] = [r for r in caplog.records if r.name == "django.request"]
    assert error["request_id"] in logged.getMessage()
    assert "the database fell over" in str(logged.exc_info[1])


def test_in_debug_too_an_api_exception_is_json_not_the_technical_page(
    failing_client, responder, broken_incident_list, caplog, settings
):
    settings.DEBUG = True  # the embedded default (`make run`) runs in DEBUG
    failing_client.force_authenticate(responder)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = failing_client.get("/api/incidents/")

    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert response.json()["error"]["request_id"] == response["X-Request-ID"]
    [logged] = [r for r in caplog.records if r.name == "django.request"]
    assert response["X-Request-ID"] in logged.getMessage()
    body = '{"title": "' + TEN_MB + '", "priority": "P3"}'
    too_big = failing_client.post("/api/incidents/", body, content_type="application/json")
    assert (too_big.status_code, too_big["Content-Type"]) == (400, "application/json")
    assert not Incident.objects.exists()
    # A POST to a path that lacks its slash was APPEND_SLASH's RuntimeError in DEBUG: it is
    # now the same answer as with the slash.
    unslashed = failing_client.post("/api/incidents", {}, format="json")
    assert (unslashed.status_code, unslashed["Content-Type"]) == (400, "application/json")
    assert unslashed.json()["error"]["code"] == "invalid"


def test_the_request_id_is_in_the_log_line_once_however_often_logging_is_configured(
    failing_client, responder, broken_incident_list, caplog, monkeypatch
):
    """Each django.setup() (get_wsgi_application() runs one) adds the filter again."""
    logger = logging.getLogger("django.request")
    monkeypatch.setattr(logger, "filters", [*logger.filters, RequestIdLogFilter()])
    failing_client.force_authenticate(responder)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = failing_client.get("/api/incidents/")

    [logged] = [r for r in caplog.records if r.name == "django.request"]
    assert logged.getMessage().count(response["X-Request-ID"]) == 1


def test_every_answer_names_its_request_id(api, responder):
    client = api.as_user(responder)

    first, second = client.get("/api/incidents/"), client.get("/api/no-such-thing/")

    assert len({first["X-Request-ID"], second["X-Request-ID"]}) == 2


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("lb-7f3a.9_c", True), ("x" * 65, False), ("two words", False), ("<script>", False)],
)
def test_a_clients_request_id_is_kept_only_when_it_is_a_short_token(api, responder, sent, kept):
    response = api.as_user(responder).get("/api/incidents/", HTTP_X_REQUEST_ID=sent)

    assert (response["X-Request-ID"] == sent) is kept
    assert response["X-Request-ID"]


def test_the_portal_keeps_its_html_pages(client, responder):
    client.force_login(responder)

    response = client.post("/incidents/new/", {"title": TEN_MB})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert response["X-Request-ID"]


def test_a_portal_page_that_fails_is_an_html_500(failing_client, responder, monkeypatch):
    failing_client.force_login(responder)
    monkeypatch.setattr(selectors, "dashboard_lists", _fail)

    response = failing_client.get("/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert response["X-Request-ID"]


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_its_docs_answer_json_errors_and_ignore_credentials(client, db, path):
    for method in ("post", "put", "delete", "options"):
        response = getattr(client, method)(path)
        assert (response.status_code, response["Content-Type"]) == (405, "application/json")
        assert response.json()["error"]["code"] == "method_not_allowed"
    assert client.get(path, HTTP_AUTHORIZATION="Bearer itsm_wrong").status_code == 200
