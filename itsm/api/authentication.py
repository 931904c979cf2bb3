from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions

from itsm import permission_cache
from itsm.api import throttle
from itsm.choices import AuthEventKind
from itsm.clients import client_address
from itsm.models import ApiToken, hash_token
from itsm.services import auth_event_record, token_record_use
from itsm.twofactor import pending_step

REFUSED = "Too many failed authentication attempts from your address."


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`. Missing, unknown, revoked or expired tokens give 401.

    An address that sent API_AUTH_FAILURE_LIMIT bad tokens within the window gets 429 until
    the window ends, for good tokens too: otherwise guessing would carry on at full speed as
    soon as one guess was right, and the 429s would tell the guesser which one."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        address = client_address(request)
        wait = throttle.seconds_refused(address)
        if wait:
            raise exceptions.Throttled(wait=wait, detail=REFUSED)
        now = timezone.now()
        try:
            token = self._live_token(raw.strip(), now)
        except exceptions.AuthenticationFailed:
            self._count_failure(request, address)
            raise
        token_record_use(token=token, now=now, request=request)
        permission_cache.load(token.user)
        return token.user, token

    @staticmethod
    def _live_token(raw: str, now) -> ApiToken:
        if not raw or " " in raw:
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
        if token is None or not token.is_usable(now) or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token.")
        return token

    @staticmethod
    def _count_failure(request, address: str) -> None:
        """Count the failure; the one that reaches the limit is audited as a lockout."""
        if throttle.failure_count(address) == settings.API_AUTH_FAILURE_LIMIT:
            auth_event_record(
                kind=AuthEventKind.LOCKED_OUT, request=request, detail={"via": "api_token"}
            )

    def authenticate_header(self, request):
        return self.keyword


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The portal's session, once it is verified: a session still owing its two-factor step
    gets 403, so a stolen password alone never reaches the API. Bearer tokens are not asked:
    each is a secret of its own, made on the server or by a super admin in the admin, never
    obtainable with a password, and the scripts that send them cannot type a code."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and pending_step(request._request.session):
            raise exceptions.PermissionDenied(
                "Finish signing in with your two-factor code before using the API."
            )
        return result
