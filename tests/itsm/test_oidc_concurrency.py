"""Two first sign-ins of one person at the same moment (two tabs coming back from the provider)
make one account, on PostgreSQL, where the second waits on the first's unique keys."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from itsm import services
from itsm.models import OidcIdentity
from itsm.oidc import roles_from_claims

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ISSUER = "https://id.example.org"
CLAIMS = {"sub": "sub-alice", "preferred_username": "alice", "groups": ["oncall"]}
TIMEOUT = 30


def test_two_first_sign_ins_at_once_make_one_account(settings, monkeypatch):
    settings.OIDC_ROLE_MAP = "oncall:responder"
    both_looked = threading.Barrier(2, timeout=TIMEOUT)
    create = services._sso_user_create
    waited = threading.local()

    def create_after_both_looked(claims):
        """Each thread creates only once both have found no identity: the race, every time."""
        if not getattr(waited, "done", False):
            waited.done = True
            both_looked.wait()
        return create(claims)

    monkeypatch.setattr(services, "_sso_user_create", create_after_both_looked)
    users, errors = [], []

    def sign_in():
        try:
            users.append(
                services.sso_user_sign_in(
                    issuer=ISSUER, claims=CLAIMS, roles=roles_from_claims(CLAIMS)
                )
            )
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_in) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)

    assert not errors, errors
    assert {user.pk for user in users} == {get_user_model().objects.get(username="alice").pk}
    assert OidcIdentity.objects.count() == 1
