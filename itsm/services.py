"""Writes of the itsm package: API tokens, and users signing in through single sign-on."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from itsm.models import ApiToken, OidcIdentity, generate_token, hash_token
from itsm.oidc import username_candidates
from itsm.roles import ADMIN_ROLES, Role


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


@transaction.atomic
def sso_user_sign_in(*, issuer: str, claims: dict, roles: set[str]):
    """The user an OpenID provider vouches for: found by (issuer, sub), created at the first
    sign-in; at every sign-in their email, names, roles and staff flag follow the claims, so a
    role the provider took away is gone. is_superuser and is_active are left alone."""
    identity = (
        OidcIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=claims["sub"])
        .first()
    )
    if identity is None:
        identity = OidcIdentity.objects.create(
            user=_sso_user_create(claims), issuer=issuer, subject=claims["sub"]
        )
    user = identity.user
    user.email = str(claims.get("email") or "")[:254]
    user.first_name = str(claims.get("given_name") or "")[:150]
    user.last_name = str(claims.get("family_name") or "")[:150]
    user.is_staff = bool(roles & ADMIN_ROLES)
    user.save(update_fields=["email", "first_name", "last_name", "is_staff"])
    user_roles_set(user=user, roles=roles)
    return user


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
