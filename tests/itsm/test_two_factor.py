"""Two-factor authentication for local accounts: enrolment, the code step of signing in,
recovery codes, the managers' requirement, and what an unverified session may not reach
(pages, the admin, the API)."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.backends import ModelBackend
from django_otp.plugins.otp_totp.models import TOTPDevice

from itsm.choices import AuthEventKind
from itsm.models import AuthEvent
from itsm.services import RECOVERY_CODE_COUNT
from tests.conftest import api_error
from tests.factories import enrol_two_factor, totp_code

PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's
STEP = 30  # seconds: a TOTP code is good for one step (and is never accepted twice)
SSO_BACKEND = "tests.itsm.test_two_factor.SingleSignOnBackend"


class SingleSignOnBackend(ModelBackend):
    """Stands in for the OIDC backend: any backend that is not a local password one."""


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def sign_in(client, user, next_page="/"):
    """The password step, through the login page."""
    response = client.post(
        "/login/", {"username": user.username, "password": PASSWORD, "next": next_page}
    )
    assert response.status_code == 302, response.content
    return response


def enter_code(client, code, next_page="/"):
    return client.post("/login/code/", {"code": code, "next": next_page})


def asks_for_code(response, next_page="/") -> bool:
    return response.status_code == 302 and response["Location"] == f"/login/code/?next={next_page}"


# --- enrolment ---------------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_then_ten_recovery_codes_once(client, responder, clock):
    client.force_login(responder)

    page = client.get("/account/two-factor/")
    assert page.status_code == 200
    assert re.search(rb'<svg [^>]*class="qr"><path ', page.content)
    device = TOTPDevice.objects.get(user=responder, confirmed=False)
    assert device.config_url.startswith("otpauth://totp/ITSM%20portal%3Arita?secret=")

    wrong = client.post("/account/two-factor/", {"code": "000000"})
    assert b"That code is not right" in wrong.content
    clock.shift(STEP)
    done = client.post("/account/two-factor/", {"code": totp_code(device)})

    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(set(codes)) == RECOVERY_CODE_COUNT
    assert "no-store" in done["Cache-Control"]
    again = client.get("/account/two-factor/")
    assert b"Recovery codes left: <strong>10</strong>" in again.content
    assert not any(code.encode() in again.content for code in codes)


def test_the_user_menu_leads_to_two_factor_authentication(signed_in, responder):
    page = signed_in(responder).get("/")
    assert b'href="/account/two-factor/" title="Two-factor authentication">' in page.content


# --- signing in ----------------------------------------------------------------------------------


def test_after_enrolment_signing_in_asks_for_a_code_and_refuses_a_wrong_one(
    client, responder, clock
):
    device, _ = enrol_two_factor(responder)
    clock.shift(STEP)

    assert asks_for_code(client.get(sign_in(client, responder)["Location"]))
    assert asks_for_code(client.get("/"))
    code_page = client.get("/login/code/?next=/")
    assert b"Enter your code" in code_page.content
    assert b"War rooms" not in code_page.content  # no navigation before the code

    wrong = enter_code(client, "000000")
    assert wrong.status_code == 200
    assert b"That code is not right" in wrong.content
    assert asks_for_code(client.get("/"))
    failed = AuthEvent.objects.get(kind=AuthEventKind.LOGIN_FAILED)
    assert (failed.user, failed.detail) == (responder, {"via": "two_factor_code"})

    clock.shift(2)  # past the one-second lock of a wrong code
    session_before = client.session.session_key
    right = enter_code(client, totp_code(device))
    assert right.status_code == 302 and right["Location"] == "/"
    assert right.wsgi_request.user.is_verified()
    assert client.session.session_key != session_before
    assert client.get("/").status_code == 200


def test_a_user_without_two_factor_signs_in_with_the_password_alone(client, responder):
    assert client.get(sign_in(client, responder)["Location"]).status_code == 200


def test_a_recovery_code_signs_in_once(client, responder, clock):
    _, codes = enrol_two_factor(responder)

    sign_in(client, responder)
    assert enter_code(client, codes[0].upper()).status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")

    sign_in(client, responder)
    used = enter_code(client, codes[0])
    assert b"That code is not right" in used.content
    assert asks_for_code(client.get("/"))
    clock.shift(2)
    assert enter_code(client, codes[1]).status_code == 302
    assert b"Recovery codes left: <strong>8</strong>" in client.get("/account/two-factor/").content


def test_wrong_codes_lock_the_device_for_longer_each_time(client, responder, clock):
    device, _ = enrol_two_factor(responder)
    clock.shift(STEP)
    sign_in(client, responder)

    enter_code(client, "000000")
    refused = enter_code(client, totp_code(device))  # the right code, but too soon
    assert b"Too many wrong codes" in refused.content
    clock.shift(1)
    enter_code(client, "000000")  # the second wrong code: locked for 2 s
    clock.shift(1)
    assert b"Too many wrong codes" in enter_code(client, totp_code(device)).content
    assert asks_for_code(client.get("/"))

    clock.shift(1)
    assert enter_code(client, totp_code(device)).status_code == 302


def test_a_single_sign_on_session_is_not_asked_for_a_local_code(client, responder, settings):
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, SSO_BACKEND]
    enrol_two_factor(responder)

    client.force_login(responder, backend=SSO_BACKEND)

    assert client.get("/").status_code == 200


def test_signing_in_through_the_admin_also_asks_for_the_code(client, manager, clock):
    device, _ = enrol_two_factor(manager)
    clock.shift(STEP)

    client.post("/admin/login/?next=/admin/", {"username": "mona", "password": PASSWORD})
    assert asks_for_code(client.get("/admin/"), "/admin/")
    assert enter_code(client, totp_code(device), "/admin/")["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


# --- required for managers ------------------------------------------------------------------------


@pytest.fixture
def required(settings):
    settings.TWO_FACTOR_REQUIRED_FOR_MANAGERS = True


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize("page", ["/", "/incidents/", "/admin/", "/admin/auth/user/"])
def test_a_manager_without_two_factor_is_sent_to_enrolment_from_every_page(client, manager, page):
    sign_in(client, manager)

    response = client.get(page)

    assert response.status_code == 302
    assert response["Location"].startswith("/account/two-factor/?next=")
    enrolment = client.get("/account/two-factor/")
    assert b"Your role requires two-factor authentication" in enrolment.content


@pytest.mark.usefixtures("required")
def test_a_manager_who_enrols_reaches_the_portal_and_may_not_turn_it_off(client, manager, clock):
    sign_in(client, manager)
    client.get("/account/two-factor/")
    device = TOTPDevice.objects.get(user=manager)
    client.post("/account/two-factor/", {"code": totp_code(device)})
    assert client.get("/admin/").status_code == 200

    clock.shift(STEP)
    client.post("/account/two-factor/disable/", {"code": totp_code(device)})

    assert TOTPDevice.objects.filter(user=manager, confirmed=True).exists()


def test_managers_are_not_required_to_enrol_unless_the_setting_says_so(client, manager):
    sign_in(client, manager)
    assert client.get("/admin/").status_code == 200


# --- turning it off ---------------------------------------------------------------------------


def test_turning_two_factor_off_needs_a_current_code(client, responder, clock):
    device, _ = enrol_two_factor(responder)
    clock.shift(STEP)
    sign_in(client, responder)
    enter_code(client, totp_code(device))

    refused = client.post("/account/two-factor/disable/", {"code": "000000"}, follow=True)
    assert b"That code is not right" in refused.content
    clock.shift(STEP)
    done = client.post("/account/two-factor/disable/", {"code": totp_code(device)}, follow=True)

    assert b"Two-factor authentication is off" in done.content
    client.post("/logout/")
    assert client.get(sign_in(client, responder)["Location"]).status_code == 200


# --- the API --------------------------------------------------------------------------------------


def test_an_unverified_session_gets_403_json_from_the_api_and_a_token_still_works(
    client, api, responder, incident
):
    enrol_two_factor(responder)
    sign_in(client, responder)

    response = client.get("/api/incidents/")

    api_error(response, 403, "permission_denied")
    assert "two-factor" in response.json()["error"]["message"]
    assert api.as_user(responder).get("/api/incidents/").status_code == 200
