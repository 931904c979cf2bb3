"""Writes of the itsm package: API tokens and the authentication audit log."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from itsm.choices import AuthEventKind
from itsm.clients import client_address, client_agent, storable
from itsm.models import ApiToken, AuthEvent, generate_token, hash_token

LAST_USED_GRANULARITY = timedelta(minutes=5)


def auth_event_record(
    *, kind: AuthEventKind, request=None, user=None, username: str = "", detail=None
) -> AuthEvent:
    """One row of the audit log; the address and user agent come from `request` if any."""
    return AuthEvent.objects.create(
        kind=kind,
        user=user,
        username=storable(username or (user.get_username() if user else ""), 150),
        ip_address=client_address(request),
        user_agent=client_agent(request),
        detail=detail or {},
    )


def _token_detail(token: ApiToken) -> dict:
    return {"token": token.hint, "name": token.name}


@transaction.atomic
def token_create(*, user, name: str = "", expires_at=None) -> tuple[ApiToken, str]:
    """Create a token for `user`; return it and the raw key (shown once, never stored)."""
    raw = generate_token()
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_token(raw), hint=raw[:12], expires_at=expires_at
    )
    auth_event_record(kind=AuthEventKind.TOKEN_CREATED, user=user, detail=_token_detail(token))
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        auth_event_record(
            kind=AuthEventKind.TOKEN_REVOKED, user=token.user, detail=_token_detail(token)
        )
    return token


def token_record_use(*, token: ApiToken, now, request) -> None:
    """The first use is written and audited once, however many requests race to it; after
    that, last use at most every few minutes, so reads do not each cost a write."""
    if token.first_used_at is None:
        first = ApiToken.objects.filter(pk=token.pk, first_used_at__isnull=True).update(
            first_used_at=now, last_used_at=now
        )
        if first:
            auth_event_record(
                kind=AuthEventKind.TOKEN_USED,
                request=request,
                user=token.user,
                detail=_token_detail(token),
            )
    elif token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
