"""Writes of the itsm package: API tokens."""

from django.db import transaction
from django.utils import timezone

from itsm.models import ApiToken, generate_token, hash_token


@transaction.atomic
def token_create(*, user, name: str = "", expires_at=None) -> tuple[ApiToken, str]:
    """Create a token for `user`; return it and the raw key (shown once, never stored)."""
    raw = generate_token()
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_token(raw), hint=raw[:12], expires_at=expires_at
    )
    return token, raw


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
