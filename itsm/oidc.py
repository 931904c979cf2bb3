"""The OpenID provider as the portal sees it: its endpoints (configured, or discovered once),
and what its claims mean here: a username, and roles through OIDC_ROLE_MAP. No database, no
request; itsm/signin.py is the Django side and itsm/services.py the write."""

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from itertools import count

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from mozilla_django_oidc.utils import import_from_settings

from itsm.roles import Role

# mozilla-django-oidc's endpoint settings, and the discovery document's field for each.
DISCOVERED_ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_END_SESSION_ENDPOINT": "end_session_endpoint",
}
USERNAME_MAX_LENGTH = 150  # django.contrib.auth's
NOT_IN_A_USERNAME = re.compile(r"[^\w.@+-]+")  # what UnicodeUsernameValidator refuses


@functools.cache
def discovery_document(issuer: str) -> dict:
    """The provider's discovery document, fetched once per process: endpoints hardly ever
    move, and the signing keys, which do, are fetched from jwks_uri at every sign-in. A failed
    fetch is not kept, so the next sign-in tries again."""
    url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
    response.raise_for_status()
    document = response.json()
    if document.get("issuer") != issuer:
        raise ImproperlyConfigured(
            f"OIDC_ISSUER is {issuer!r} but the provider calls itself {document.get('issuer')!r}."
        )
    return document


def provider_setting(name: str, *default):
    """A mozilla-django-oidc setting; an endpoint left empty comes from discovery."""
    value = import_from_settings(name, *default)
    if value or name not in DISCOVERED_ENDPOINTS:
        return value
    return discovery_document(settings.OIDC_ISSUER).get(DISCOVERED_ENDPOINTS[name], "")


def parse_role_map(text: str) -> dict[str, set[str]]:
    """OIDC_ROLE_MAP, "group:role,group:role", as {provider group: roles}. A group named twice
    gives both roles; a group name may hold colons (the role is after the last one)."""
    role_map = defaultdict(set)
    for pair in filter(None, (part.strip() for part in text.split(","))):
        group, _, role = (part.strip() for part in pair.rpartition(":"))
        if not group or role not in Role.values:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP: {pair!r} is not <provider group>:<role>, the role one of "
                f"{', '.join(Role.values)}."
            )
        role_map[group].add(role)
    return dict(role_map)


def roles_from_claims(claims: dict) -> set[str]:
    """The portal roles the provider's groups claim maps to (none when no group is mapped)."""
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    role_map = parse_role_map(settings.OIDC_ROLE_MAP)
    return {role for group in groups if isinstance(group, str) for role in role_map.get(group, ())}


def sanitise_username(name: str) -> str:
    """A valid Django username from what the provider calls someone: lower case, each run of
    characters a username may not hold turned into "-", at most 150 characters."""
    name = unicodedata.normalize("NFKC", name).lower()
    return NOT_IN_A_USERNAME.sub("-", name).strip(".-")[:USERNAME_MAX_LENGTH]


def username_candidates(claims: dict) -> Iterator[str]:
    """Usernames to try for a new user, in order: from preferred_username (else the email's
    local part), then the same with -2, -3… until one is free."""
    names = (claims.get("preferred_username"), str(claims.get("email") or "").partition("@")[0])
    base = next(filter(None, (sanitise_username(str(name or "")) for name in names)), "user")
    yield base
    for n in count(2):
        suffix = f"-{n}"
        yield base[: USERNAME_MAX_LENGTH - len(suffix)] + suffix
