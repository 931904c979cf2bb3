from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from itsm.models import ApiToken, hash_token
from itsm.twofactor import pending_step

LAST_USED_GRANULARITY = timedelta(minutes=5)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`. Missing, unknown, revoked or expired tokens give 401."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw = raw.strip()
        if not raw or " " in raw:
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
        now = timezone.now()
        if token is None or not token.is_usable(now) or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token.")
        self._touch(token, now)
        return token.user, token

    @staticmethod
    def _touch(token, now):
        """Record use at most every few minutes, so reads do not each cost a write."""
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)

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
