"""Single sign-on with OpenID Connect.

In a real browser against a real provider: panva's oidc-provider (tests/oidc, `make
oidc-provider`) in a Node process, the portal in uvicorn, Debian's Chromium in between. People
sign in with the provider's button, get the roles their provider groups map to, lose the ones
the provider took away at their next sign-in, and cannot use a password where local login is
off. Below that, the claim mapping and the usernames, and the login pages' switches.
"""

import json
import os
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from playwright.sync_api import expect

from itsm import services
from itsm.oidc import (
    discovery_document,
    parse_role_map,
    provider_setting,
    roles_from_claims,
    sanitise_username,
    username_candidates,
)
from itsm.roles import Role, user_roles
from itsm.signin import PortalOIDCBackend
from tests.browser import HOST, AsgiServer, free_port, off_the_loop
from tests.conftest import start_refused

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc"
PORTAL_PORTS = range(19200, 19250)
PROVIDER_PORTS = range(19250, 19300)
CLIENT_ID = "itsm-portal"
CLIENT_SECRET = "client-secret-for-tests-only-0123456789"
PROVIDER_NAME = "Example ID"
ROLE_MAP = (
    "itsm-managers:itsm_manager,oncall:responder,leadership:stakeholder,it-admins:super_admin"
)
ISSUER = "https://id.example.org"
PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's


@pytest.fixture
def sso(settings):
    """Single sign-on on, in this process, as the environment would set it."""
    settings.OIDC_ENABLED = True
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_PROVIDER_NAME = PROVIDER_NAME
    settings.OIDC_ROLE_MAP = ROLE_MAP
    settings.AUTHENTICATION_BACKENDS = [
        "itsm.signin.PortalOIDCBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    return settings


def roles_of(user) -> set[str]:
    user = get_user_model().objects.get(pk=user.pk)  # no cached roles
    return user_roles(user)


# --- the claims -----------------------------------------------------------------------------------


def test_the_role_map_gives_a_group_every_role_it_is_named_with():
    role_map = parse_role_map(" oncall:responder , cn=ops:it:itsm_manager,oncall:stakeholder,")
    assert role_map == {"oncall": {"responder", "stakeholder"}, "cn=ops:it": {"itsm_manager"}}


@pytest.mark.parametrize("text", ["oncall:pager", "oncall", ":responder", "oncall:Responder"])
def test_a_role_map_naming_no_known_role_stops_the_start(text):
    with pytest.raises(ImproperlyConfigured, match="OIDC_ROLE_MAP"):
        parse_role_map(text)


@pytest.mark.parametrize(
    ("groups", "roles"),
    [
        (["itsm-managers", "oncall", "coffee-club"], {Role.ITSM_MANAGER, Role.RESPONDER}),
        ("leadership", {Role.STAKEHOLDER}),  # one group, as a string
        (["coffee-club"], set()),
        (["ITSM-Managers", {"name": "it-admins"}, 7], set()),  # exact names only
        (None, set()),
    ],
)
def test_the_groups_claim_maps_to_roles(sso, groups, roles):
    assert roles_from_claims({"sub": "x", "groups": groups}) == roles


def test_the_groups_claim_is_read_from_the_claim_the_setting_names(sso):
    sso.OIDC_GROUPS_CLAIM = "https://example.org/roles"
    claims = {"groups": ["it-admins"], "https://example.org/roles": ["oncall"]}
    assert roles_from_claims(claims) == {Role.RESPONDER}


@pytest.mark.parametrize(
    ("name", "username"),
    [
        ("Alice.Smith", "alice.smith"),
        ("Alice Smith <boss>", "alice-smith-boss"),
        ("  ../Ünïcode ok_1+2@corp ", "ünïcode-ok_1+2@corp"),
        ("ｆｕｌｌ　ｗｉｄｔｈ", "full-width"),
        ("x" * 200, "x" * 150),
        ("\x00//..", ""),
    ],
)
def test_usernames_from_the_provider_are_made_valid(name, username):
    assert sanitise_username(name) == username


def test_a_username_falls_back_to_the_email_then_to_user_and_numbers_on():
    def first(claims, n=1):
        candidates = username_candidates(claims)
        return [next(candidates) for _ in range(n)]

    assert first({"preferred_username": "!!!", "email": "Bo.Li@example.org"}) == ["bo.li"]
    assert first({}, 3) == ["user", "user-2", "user-3"]
    assert first({"preferred_username": "y" * 150}, 2)[1] == "y" * 148 + "-2"


# --- signing in: the write ------------------------------------------------------------------------


def sign_in(claims, **extra):
    claims = {"sub": "sub-alice", "preferred_username": "alice"} | claims | extra
    return services.sso_user_sign_in(issuer=ISSUER, claims=claims, roles=roles_from_claims(claims))


def test_the_first_sign_in_creates_the_user_with_their_roles(db, sso):
    user = sign_in(
        {"email": "alice@example.org", "given_name": "Alice", "family_name": "Smith"},
        groups=["itsm-managers"],
    )
    assert (user.username, user.email, user.get_full_name()) == (
        "alice",
        "alice@example.org",
        "Alice Smith",
    )
    assert roles_of(user) == {Role.ITSM_MANAGER}
    assert user.is_staff and not user.is_superuser
    assert not user.has_usable_password()


def test_each_sign_in_sets_the_roles_the_provider_says_now(db, sso):
    first = sign_in({}, groups=["itsm-managers", "it-admins"])
    coffee = Group.objects.create(name="coffee-club")
    first.groups.add(coffee)

    again = sign_in({"preferred_username": "alice.renamed", "email": "new@example.org"})
    assert again.pk == first.pk and again.username == "alice"  # found by subject
    assert again.email == "new@example.org"
    assert roles_of(again) == set() and not again.is_staff
    assert list(again.groups.all()) == [coffee]  # not a role: left alone

    assert roles_of(sign_in({}, groups=["oncall"])) == {Role.RESPONDER}


def test_a_provider_account_never_takes_over_a_local_one(db, sso, make_user):
    local = make_user("alice", roles=[Role.SUPER_ADMIN], email="alice@example.org")
    make_user("Alice-2")

    user = sign_in({"email": "alice@example.org"}, groups=["oncall"])

    assert user.pk != local.pk and user.username == "alice-3"
    assert roles_of(local) == {Role.SUPER_ADMIN}


def test_a_deactivated_user_is_signed_out_of_their_sso_session(db, sso, client):
    user = sign_in({}, groups=["oncall"])
    client.force_login(user, backend="itsm.signin.PortalOIDCBackend")
    assert client.get("/").status_code == 200

    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    assert client.get("/").url.startswith("/login/")


# --- the login pages ------------------------------------------------------------------------------


def test_the_login_page_offers_the_provider_and_the_password(client, sso, db):
    page = client.get("/login/?next=/warroom/").content.decode()
    assert f"Sign in with {PROVIDER_NAME}" in page
    assert 'href="/oidc/authenticate/?next=/warroom/"' in page
    assert 'name="password"' in page


def test_without_sso_the_login_page_has_only_the_password(client, db):
    page = client.get("/login/").content.decode()
    assert "Sign in with" not in page and 'name="password"' in page
    assert client.get("/oidc/authenticate/").status_code == 404


@pytest.fixture
def local_login_off(sso, make_user):
    sso.LOCAL_LOGIN_ENABLED = False
    return make_user("rita", roles=[Role.RESPONDER], is_staff=True)


def test_without_local_login_the_login_page_has_only_the_provider(client, local_login_off):
    page = client.get("/login/").content.decode()
    assert f"Sign in with {PROVIDER_NAME}" in page and 'name="password"' not in page


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_without_local_login_a_password_is_refused(client, local_login_off, path):
    response = client.post(path, {"username": "rita", "password": PASSWORD})
    assert response.status_code == 403
    assert b"Password sign-in is off" in response.content
    assert client.get("/").url.startswith("/login/")  # not signed in


def test_without_local_login_the_admin_sends_people_to_the_portals_login(client, local_login_off):
    assert client.get("/admin/login/?next=/admin/").url == "/login/?next=/admin/"


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"OIDC_ISSUER": ISSUER}, "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be"),
        ({"LOCAL_LOGIN_ENABLED": "false"}, "nobody could sign in"),
        (
            {"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "c", "OIDC_CLIENT_SECRET": "s"}
            | {"OIDC_ROLE_MAP": "oncall:pager"},
            "OIDC_ROLE_MAP: 'oncall:pager'",
        ),
    ],
)
def test_the_portal_will_not_start_with_broken_sign_in_settings(environment, message):
    assert message in start_refused(environment)


# --- the provider's endpoints and tokens ------------------------------------------------------


class _Discovery(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        body = json.dumps(self.server.document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def discovery(sso):
    """A provider that serves only its discovery document (`server.document`), and single
    sign-on set up with it as the issuer."""
    server = ThreadingHTTPServer((HOST, 0), _Discovery)
    server.requests = []
    sso.OIDC_ISSUER = f"http://{HOST}:{server.server_address[1]}"
    server.document = {
        "issuer": sso.OIDC_ISSUER,
        "authorization_endpoint": f"{sso.OIDC_ISSUER}/auth",
        "token_endpoint": f"{sso.OIDC_ISSUER}/token",
    }
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    discovery_document.cache_clear()
    yield server
    discovery_document.cache_clear()
    server.shutdown()
    server.server_close()
    thread.join()


def test_endpoints_come_from_discovery_fetched_once_unless_set(discovery, settings):
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://elsewhere.example.org/token"
    assert provider_setting("OIDC_OP_AUTHORIZATION_ENDPOINT") == f"{settings.OIDC_ISSUER}/auth"
    assert provider_setting("OIDC_OP_TOKEN_ENDPOINT") == "https://elsewhere.example.org/token"
    assert provider_setting("OIDC_OP_END_SESSION_ENDPOINT") == ""  # not offered
    provider_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
    assert discovery.requests == ["/.well-known/openid-configuration"]


def test_a_provider_that_names_another_issuer_is_not_used(discovery):
    discovery.document["issuer"] = "https://impostor.example.org"
    with pytest.raises(ImproperlyConfigured, match="impostor"):
        provider_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")


def test_the_button_leads_to_the_provider_with_pkce(discovery, client, db):
    response = client.get("/oidc/authenticate/?next=/warroom/")
    assert response.url.startswith(f"{discovery.document['authorization_endpoint']}?")
    assert "code_challenge_method=S256" in response.url
    assert "scope=openid+email+profile+groups" in response.url


def test_an_unreachable_provider_brings_people_back_to_the_login_page_saying_so(sso, client, db):
    sso.OIDC_ISSUER = f"http://{HOST}:{free_port(range(19300, 19400))}"  # nobody listens
    discovery_document.cache_clear()
    response = client.get("/oidc/authenticate/", follow=True)
    assert response.redirect_chain == [("/login/", 302)]
    assert f"{PROVIDER_NAME} cannot be reached" in response.content.decode()


def test_a_callback_without_a_sign_in_under_way_signs_nobody_in(sso, client, db):
    response = client.get("/oidc/callback/?code=stolen&state=guessed", follow=True)
    assert response.redirect_chain == [("/login/", 302)]
    assert f"Signing in with {PROVIDER_NAME} did not work" in response.content.decode()
    assert client.get("/").url.startswith("/login/")


def test_a_password_sign_in_never_exchanges_a_code_found_in_its_url(discovery, client, responder):
    """A form posted to /login/?code=…&state=… is a password sign-in and nothing more: the
    provider is not asked to exchange a code somebody planted in the link."""
    response = client.post(
        "/login/?code=planted&state=planted",
        {"username": responder.username, "password": "pw-for-tests-only"},
    )
    assert response.status_code == 302
    assert discovery.requests == []


def token(**claims) -> str:
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "sub-alice", "nonce": "n"} | claims
    return jwt.encode(claims, CLIENT_SECRET, algorithm="HS256")


@pytest.fixture
def backend(sso):
    """The backend with a shared-secret algorithm, so that a test can sign its own tokens."""
    sso.OIDC_RP_CLIENT_ID = CLIENT_ID
    sso.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    sso.OIDC_RP_SIGN_ALGO = "HS256"
    return PortalOIDCBackend()


def test_a_token_for_the_portal_from_the_issuer_is_accepted(backend):
    assert backend.verify_token(token(aud=["other", CLIENT_ID]), nonce="n")["sub"] == "sub-alice"


@pytest.mark.parametrize(
    "claims", [{"iss": "https://impostor.example.org"}, {"aud": "another-client"}, {"aud": None}]
)
def test_a_token_from_another_issuer_or_for_another_client_is_refused(backend, claims):
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(token(**claims), nonce="n")


# --- in a browser, against a real provider --------------------------------------------------------


class Provider:
    """panva's oidc-provider (tests/oidc/provider.mjs) in a Node process; who signs in as
    whom is `accounts` ({login: {"groups": [...], ...}}), read again at each sign-in."""

    def __init__(self, port: int, portal: str, tmp_path: Path):
        self.issuer = f"http://{HOST}:{port}"
        self.accounts_file = tmp_path / "accounts.json"
        self.log = tmp_path / "provider.log"
        self.env = os.environ | {
            "PORT": str(port),
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "PORTAL": portal,
            "ACCOUNTS": str(self.accounts_file),
        }
        self.process = None

    def set_accounts(self, accounts: dict) -> None:
        self.accounts_file.write_text(json.dumps(accounts))

    def start(self) -> None:
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("The test OpenID provider is not installed: run make oidc-provider")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", "provider.mjs"],
                cwd=PROVIDER_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The provider exited:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(discovery, timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"The provider did not answer in 20 s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def provider_and_portal(tmp_path):
    """The provider, and the portal set up for it with local login off."""
    portal_port = free_port(PORTAL_PORTS)
    provider = Provider(free_port(PROVIDER_PORTS), f"http://{HOST}:{portal_port}", tmp_path)
    provider.set_accounts({})
    portal = AsgiServer(
        portal_port,
        tmp_path / "portal.log",
        env={
            "OIDC_ISSUER": provider.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_PROVIDER_NAME": PROVIDER_NAME,
            "OIDC_ROLE_MAP": ROLE_MAP,
            "LOCAL_LOGIN_ENABLED": "false",
        },
    )
    try:
        provider.start()
        portal.start()
        yield provider, portal
    finally:
        portal.stop()  # before pytest-django empties the database it reads
        provider.stop()


def sign_in_at_the_provider(page, portal: AsgiServer, login: str) -> None:
    """From the portal's login page through the provider's own login form (and its consent
    page) back to the portal."""
    page.goto(f"{portal.url}/login/")
    expect(page.get_by_label("Password")).to_have_count(0)  # local login is off
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    consent = page.get_by_role("button", name="Continue")
    expect(consent.or_(page.locator(".account-name"))).to_be_visible()
    if consent.is_visible():
        consent.click()
    page.wait_for_url(lambda url: url.startswith(portal.url))


def user_named(username: str):
    def read():
        user = get_user_model().objects.get(username=username)
        return {"roles": user_roles(user), "is_staff": user.is_staff, "name": user.get_full_name()}

    return off_the_loop(read)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_people_sign_in_through_the_provider_with_the_roles_its_groups_give(
    provider_and_portal, browser, make_user
):
    provider, portal = provider_and_portal
    accounts = {
        "alice": {"groups": ["itsm-managers", "coffee-club"], "given_name": "Alice"},
        "bob": {"groups": ["marketing"], "given_name": "Bob"},
    }
    provider.set_accounts(accounts)
    started = time.monotonic()

    # Alice's groups make her an ITSM manager: she lands on the dashboard, admin link and all.
    alice = browser.new_context().new_page()
    sign_in_at_the_provider(alice, portal, "alice")
    assert alice.url == f"{portal.url}/"
    expect(alice.locator(".account-name")).to_have_text("Alice")
    expect(alice.get_by_role("link", name="Admin")).to_be_visible()
    assert user_named("alice") == {"roles": {Role.ITSM_MANAGER}, "is_staff": True, "name": "Alice"}

    # She logs out of the portal and of the provider, which sends her back to the login page.
    alice.get_by_role("button", name="Log out").click()
    alice.get_by_role("button", name="Yes, sign me out").click()
    alice.wait_for_url(f"{portal.url}/login/")
    alice.goto(f"{portal.url}/")
    assert alice.url.startswith(f"{portal.url}/login/")

    # The provider moves her to on-call: at her next sign-in she is a responder only.
    accounts["alice"]["groups"] = ["oncall"]
    provider.set_accounts(accounts)
    sign_in_at_the_provider(alice, portal, "alice")
    expect(alice.locator(".account-name")).to_have_text("Alice")
    expect(alice.get_by_role("link", name="Admin")).to_have_count(0)
    assert user_named("alice") == {"roles": {Role.RESPONDER}, "is_staff": False, "name": "Alice"}

    # Bob's groups map to no role: signed in, with the portal's page for people without one.
    bob = browser.new_context().new_page()
    sign_in_at_the_provider(bob, portal, "bob")
    expect(bob.locator(".account-name")).to_have_text("Bob")
    expect(bob.get_by_role("heading", name="You do not have access to this")).to_be_visible()
    assert user_named("bob")["roles"] == set()

    # Local login is off: a correct password is refused, at the portal's login and the admin's.
    off_the_loop(lambda: make_user("rita", roles=[Role.RESPONDER], is_staff=True))
    stranger = browser.new_context()
    stranger.add_cookies([{"name": "csrftoken", "value": "c" * 32, "url": portal.url}])
    for path in ("/login/", "/admin/login/"):
        refused = stranger.request.post(
            f"{portal.url}{path}",
            form={"username": "rita", "password": PASSWORD},
            headers={"X-CSRFToken": "c" * 32},
        )
        assert refused.status == 403
        assert "Password sign-in is off" in refused.text()
    page = stranger.new_page()
    page.goto(f"{portal.url}/")
    assert page.url.startswith(f"{portal.url}/login/")
    print(f"single sign-on flows took {time.monotonic() - started:.1f} s")
