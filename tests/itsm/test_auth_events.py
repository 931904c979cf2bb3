"""The authentication audit log: every sign-in, sign-out, failure and token's life is a row;
ITSM managers and super admins read it in the admin, as CSV and over the API; nobody else."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from itsm.models import AuthEvent
from itsm.services import auth_event_record, token_create, token_revoke
from tests.conftest import api_error

PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's
BROWSER = "Mozilla/5.0 (audit test)"


def events(*fields):
    return list(AuthEvent.objects.order_by("at", "id").values_list(*fields))


def sign_in(client, address, username, password):
    return client.post(
        "/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        HTTP_USER_AGENT=BROWSER,
    )


def test_sign_in_and_sign_out_are_recorded_with_address_and_browser(client, responder, address):
    assert sign_in(client, address, "rita", PASSWORD).status_code == 302
    client.post("/logout/", REMOTE_ADDR=address, HTTP_USER_AGENT=BROWSER)

    assert events("kind", "user__username", "username", "ip_address", "user_agent") == [
        ("login", "rita", "rita", address, BROWSER),
        ("logout", "rita", "rita", address, BROWSER),
    ]
    client.post("/logout/", REMOTE_ADDR=address)  # signed out already: nobody to record
    assert AuthEvent.objects.count() == 2


def test_a_failed_sign_in_records_the_account_tried_and_masks_other_text(
    client, responder, address
):
    sign_in(client, address, "rita", "not-her-password")
    sign_in(client, address, "Tr0ub4dor&3", "rita")  # the password in the wrong box

    assert events("kind", "user", "username", "ip_address", "detail") == [
        ("login_failed", None, "rita", address, {"locked_out": False}),
        (
            "login_failed",
            None,
            "Tr… (11 characters, no such account)",
            address,
            {"locked_out": False},
        ),
    ]


def test_a_lockout_is_recorded(client, responder, address):
    for _ in range(5):
        sign_in(client, address, "rita", "not-her-password")

    assert events("kind", "username", "ip_address", "detail")[-2:] == [
        ("locked_out", "rita", address, {"via": "sign_in"}),
        ("login_failed", "rita", address, {"locked_out": True}),
    ]


def test_a_tokens_life_is_recorded_first_use_once(responder):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token, raw = token_create(user=responder, name="ci")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        created = timezone.now()

        clock.shift(timedelta(minutes=1))
        first = timezone.now()
        client.get("/api/incidents/", HTTP_USER_AGENT="ci-script/1.0")
        clock.shift(timedelta(minutes=10))
        last = timezone.now()
        client.get("/api/incidents/")
        token_revoke(token=token)

    token.refresh_from_db()
    assert (token.first_used_at, token.last_used_at) == (first, last)
    assert events("kind", "user__username", "at", "user_agent", "detail") == [
        ("token_created", "rita", created, "", {"token": token.hint, "name": "ci"}),
        ("token_used", "rita", first, "ci-script/1.0", {"token": token.hint, "name": "ci"}),
        ("token_revoked", "rita", last, "", {"token": token.hint, "name": "ci"}),
    ]


# --- reading it -----------------------------------------------------------------------------


@pytest.fixture
def logged(responder):
    """Three events: two failed sign-ins (one a formula, for the CSV) and a sign-in."""
    auth_event_record(kind="login_failed", username='=HYPERLINK("http://evil")')
    auth_event_record(kind="login_failed", username="rita")
    auth_event_record(kind="login", user=responder)


def test_a_manager_reads_the_log_in_the_admin(signed_in, manager, logged):
    page = signed_in(manager).get("/admin/itsm/authevent/?kind__exact=login_failed")

    assert page.status_code == 200
    assert page.context["cl"].result_count == 2
    assert "Export CSV" in page.content.decode()


def test_a_manager_exports_the_filtered_log_as_csv(signed_in, manager, logged):
    response = signed_in(manager).get("/admin/itsm/authevent/export/?kind__exact=login_failed")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="auth-events-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["kind"], row["username"]) for row in rows] == [
        ("login_failed", "rita"),
        ("login_failed", '\'=HYPERLINK("http://evil")'),  # not a formula in a spreadsheet
    ]


def test_staff_without_the_permission_may_not_read_the_log(signed_in, make_user, logged):
    staff = make_user("stan", is_staff=True)

    assert signed_in(staff).get("/admin/itsm/authevent/").status_code == 403
    assert signed_in(staff).get("/admin/itsm/authevent/export/").status_code == 403


def test_managers_list_the_log_over_the_api_with_filters(api, manager, super_admin, logged):
    for user in (manager, super_admin):
        response = api.as_user(user).get("/api/auth-events/", {"kind": "login_failed"})

        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 2
        assert [e["username"] for e in body["results"]] == ["rita", '=HYPERLINK("http://evil")']

    by_user = api.as_user(manager).get("/api/auth-events/", {"user": "rita"}).json()
    assert [(e["kind"], e["user"]) for e in by_user["results"]] == [("login", "rita")]


@pytest.mark.parametrize("role", ["responder", "stakeholder"])
def test_responders_and_stakeholders_may_not_read_the_log(api, request, role, logged):
    user = request.getfixturevalue(role)

    api_error(api.as_user(user).get("/api/auth-events/"), 403, "permission_denied")


def test_a_nul_in_a_filter_or_search_is_refused_not_a_server_error(api, signed_in, manager):
    response = api.as_user(manager).get(
        "/api/auth-events/", {"ip_address": "1\x00", "user": "\x00"}
    )
    page = signed_in(manager).get("/admin/itsm/authevent/", {"q": "rita\x00"})
    export = signed_in(manager).get("/admin/itsm/authevent/export/", {"q": "rita\x00"})

    assert set(api_error(response, 400, "invalid")) == {"ip_address", "user"}
    for answer in (page, export):  # the admin's answer to any bad lookup
        assert answer.status_code == 302 and answer.url == "/admin/itsm/authevent/?e=1"


def test_a_moment_with_any_offset_filters_and_one_beyond_the_calendar_is_refused(api, manager):
    """PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows: compared in UTC."""
    client = api.as_user(manager)

    odd_offset = client.get("/api/auth-events/", {"since": "0760-12-17T11:41:36+17:28"})
    beyond = client.get("/api/auth-events/", {"until": "0001-01-01T00:00:00+05:00"})

    assert odd_offset.status_code == 200
    assert set(api_error(beyond, 400, "invalid")) == {"until"}
