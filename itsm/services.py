"""Writes of the itsm package: API tokens, the authentication audit log, users signing in
through single sign-on, and two-factor authentication devices."""

import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from itsm.choices import AuthEventKind
from itsm.clients import client_address, client_agent, storable
from itsm.errors import ValidationFailed
from itsm.models import ApiToken, AuthEvent, OidcIdentity, generate_token, hash_token
from itsm.oidc import username_candidates
from itsm.roles import ADMIN_ROLES, Role

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


@transaction.atomic
def sso_user_sign_in(*, issuer: str, claims: dict, roles: set[str]):
    """The user an OpenID provider vouches for: found by (issuer, sub), created at the first
    sign-in; at every sign-in their email, names, roles and staff flag follow the claims, so a
    role the provider took away is gone. is_superuser and is_active are left alone."""
    user = _sso_identity(issuer, claims).user
    user.email = str(claims.get("email") or "")[:254]
    user.first_name = str(claims.get("given_name") or "")[:150]
    user.last_name = str(claims.get("family_name") or "")[:150]
    user.is_staff = bool(roles & ADMIN_ROLES)
    user.save(update_fields=["email", "first_name", "last_name", "is_staff"])
    user_roles_set(user=user, roles=roles)
    return user


SSO_FIRST_SIGN_IN_ATTEMPTS = 3


def _sso_identity(issuer: str, claims: dict) -> OidcIdentity:
    """The person's identity, made at their first sign-in. Two first sign-ins at once (two
    tabs, or two people whose names clash) both find none and both create: the one that loses
    the unique constraint looks again, and finds what the other made or takes the next name."""
    for _ in range(SSO_FIRST_SIGN_IN_ATTEMPTS - 1):
        try:
            return _sso_identity_found_or_made(issuer, claims)
        except IntegrityError:
            continue
    return _sso_identity_found_or_made(issuer, claims)


def _sso_identity_found_or_made(issuer: str, claims: dict) -> OidcIdentity:
    identity = (
        OidcIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=claims["sub"])
        .first()
    )
    if identity is not None:
        return identity
    with transaction.atomic():  # a savepoint: a lost race leaves the sign-in's transaction usable
        return OidcIdentity.objects.create(
            user=_sso_user_create(claims), issuer=issuer, subject=claims["sub"]
        )


def _sso_user_create(claims: dict):
    """A new user with the first free username and no usable password."""
    users = get_user_model().objects
    username = next(
        name
        for name in username_candidates(claims)
        if not users.filter(username__iexact=name).exists()
    )
    return users.create_user(username)


def user_roles_set(*, user, roles: set[str]) -> None:
    """Give `user` exactly these roles; groups that are not roles are left as they are."""
    role_groups = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*role_groups.exclude(name__in=roles))
    user.groups.add(*role_groups.filter(name__in=roles))


# --- two-factor authentication ----------------------------------------------------------------

AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10
TOTP_CODE = re.compile(r"\d{6}")
WRONG_CODE = "That code is not right. Check your authenticator app's clock and try again."
THROTTLED = "Too many wrong codes. Wait a few seconds, then try again."


@transaction.atomic
def two_factor_enrol_start(*, user) -> TOTPDevice:
    """The user's unconfirmed authenticator, made on the first call and the same one until it
    is confirmed, so reloading the page keeps the QR code already scanned."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def two_factor_confirm(*, user, code: str) -> tuple[TOTPDevice, list[str]]:
    """Turn two-factor authentication on with a first code from the new authenticator; return
    it and the recovery codes, which are shown to the user this once."""
    with transaction.atomic():
        device = _for_verify(TOTPDevice.objects.devices_for_user(user, confirmed=False))
        if device is None:
            raise ValidationFailed("Scan the QR code again: no authenticator awaits a code.")
        error = _check_code(device, code)
        if error is None:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            return device, _new_recovery_codes(user)
    raise ValidationFailed(error)  # outside the transaction, which keeps the throttle counted


def two_factor_verify(*, user, code: str):
    """The device that accepts `code`: the authenticator for six digits, else the recovery
    codes, one of which is then used up. Only that device counts a wrong guess."""
    code = code.replace(" ", "").strip().lower()
    model = TOTPDevice if TOTP_CODE.fullmatch(code) else StaticDevice
    with transaction.atomic():
        device = _for_verify(model.objects.devices_for_user(user, confirmed=True))
        error = WRONG_CODE if device is None else _check_code(device, code)
        if error is None:
            return device
    raise ValidationFailed(error)


def two_factor_disable(*, user, code: str) -> None:
    """Turn two-factor authentication off, proven with a current code."""
    two_factor_verify(user=user, code=code)
    with transaction.atomic():
        for model in (TOTPDevice, StaticDevice):
            model.objects.filter(user=user).delete()


def _for_verify(devices):
    return devices.select_for_update().first()


def _check_code(device, code: str) -> str | None:
    """What is wrong with `code` for `device`, or None when it is accepted. django-otp counts
    each wrong code and locks the device for twice as long each time; a guess while it is
    locked is refused without being tried."""
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return THROTTLED
    return None if device.verify_token(code) else WRONG_CODE


def _new_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_CODES_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes
