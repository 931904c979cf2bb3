"""Signing in and out: the login page (the provider's button, the password form where
LOCAL_LOGIN_ENABLED allows it), single sign-on through mozilla-django-oidc (authorization code
flow with PKCE), and a logout that ends the provider's session too."""

import logging
from urllib.parse import urlencode

import jwt
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import LoginView, LogoutView, redirect_to_login
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView
from requests import RequestException

from itsm import oidc, services

LOGGER = logging.getLogger(__name__)
# The provider unreachable or refusing, or a token that does not check out.
SIGN_IN_ERRORS = (RequestException, SuspiciousOperation, jwt.InvalidTokenError)


def _endpoint(name: str) -> property:
    return property(lambda self: oidc.provider_setting(name))


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, with the user found by the provider's subject and given
    the roles its groups map to (services.sso_user_sign_in)."""

    get_settings = staticmethod(oidc.provider_setting)
    get_user = ModelBackend.get_user  # mozilla's would keep a deactivated user signed in
    OIDC_OP_TOKEN_ENDPOINT = _endpoint("OIDC_OP_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = _endpoint("OIDC_OP_USER_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = _endpoint("OIDC_OP_JWKS_ENDPOINT")

    def __init__(self):
        """Django makes a backend on every request that loads a signed-in user, so the
        endpoints (and discovery) are looked up only when a sign-in uses them."""
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        """Only the callback signs in through the provider (it passes the session's nonce): a
        password form posted to a URL carrying ?code=&state= must not exchange that code."""
        if "nonce" not in kwargs:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except SIGN_IN_ERRORS as error:
            LOGGER.warning("Single sign-on failed: %s", error)
            return None

    def verify_token(self, token, **kwargs):
        """The library checks the signature, expiry and nonce; the issuer and audience too."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if payload.get("iss") != settings.OIDC_ISSUER or self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The token is from another issuer or for another client.")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        """The ID token's claims with userinfo's over them: groups may come in either."""
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if not payload.get("sub") or userinfo.get("sub") != payload["sub"]:
            raise SuspiciousOperation("userinfo is about another subject than the ID token.")
        claims = {**payload, **userinfo}
        return services.sso_user_sign_in(
            issuer=settings.OIDC_ISSUER, claims=claims, roles=oidc.roles_from_claims(claims)
        )


class _ToProvider(OIDCAuthenticationRequestView):
    get_settings = staticmethod(oidc.provider_setting)


_to_provider = _ToProvider.as_view()


def sso_sign_in(request):
    """Off to the provider (state, nonce and PKCE by mozilla-django-oidc); back to the login
    page with a message when the provider cannot be reached."""
    if not settings.OIDC_ENABLED:
        raise Http404
    try:
        return _to_provider(request)
    except RequestException as error:
        LOGGER.warning("The OpenID provider could not be reached: %s", error)
        messages.error(request, f"{settings.OIDC_PROVIDER_NAME} cannot be reached. Try again soon.")
        return redirect(settings.LOGIN_URL)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back; a failed sign-in lands on the login page and
    says so."""

    get_settings = staticmethod(oidc.provider_setting)

    def dispatch(self, request, *args, **kwargs):
        if not settings.OIDC_ENABLED:
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    @property
    def failure_url(self):
        return resolve_url(settings.LOGIN_URL)

    def login_failure(self):
        messages.error(
            self.request,
            f"Signing in with {settings.OIDC_PROVIDER_NAME} did not work. Try again, or ask an "
            "administrator.",
        )
        return super().login_failure()


class PortalLoginView(LoginView):
    """The login page (the provider's button and the password form are the template's, from
    context_processors.sign_in); without local login, a password is refused."""

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN_ENABLED:
            return password_refused(request)
        return super().post(request, *args, **kwargs)


def password_refused(request):
    return render(request, "registration/password_refused.html", status=403)


def admin_login(request):
    """The admin's login page; without local login the portal's, whose button leads back."""
    if settings.LOCAL_LOGIN_ENABLED:
        return admin.site.login(request)
    if request.method == "POST":
        return password_refused(request)
    return redirect_to_login(request.GET.get("next") or resolve_url("admin:index"))


class PortalLogoutView(LogoutView):
    """Ends the portal session, then the provider's when the user signed in there and the
    provider offers an end_session_endpoint (it sends the browser back to the login page)."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        """A GET (a link followed, an address typed) signs nobody out: back to the portal,
        whose sign-out button posts here."""
        return redirect("incidents:dashboard")

    def post(self, request, *args, **kwargs):
        provider_logout = provider_logout_url(request)  # before the session is emptied
        response = super().post(request, *args, **kwargs)
        return redirect(provider_logout) if provider_logout else response


def provider_logout_url(request) -> str:
    """RP-initiated logout at the provider, or "" when there is none to do."""
    id_token = request.session.get("oidc_id_token")
    if not (settings.OIDC_ENABLED and id_token):
        return ""
    try:
        endpoint = oidc.provider_setting("OIDC_OP_END_SESSION_ENDPOINT")
    except RequestException:
        return ""
    if not endpoint:
        return ""
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "post_logout_redirect_uri": request.build_absolute_uri(
                resolve_url(settings.LOGOUT_REDIRECT_URL)
            ),
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
