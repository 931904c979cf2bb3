"""Each user's permission set, kept in the `permissions` cache between API requests.

Django reads a user's permissions with two queries (their own, their groups') once per request;
a bearer token's user is loaded afresh on every request, so every API call paid them (about a
quarter of an incident's detail). `load(user)` puts the cached set where Django's
`ModelBackend` looks for it (`user._perm_cache`), reading and caching it on a miss.

Invalidation is by **version tokens**: random tokens replaced by a change, once at the change
and again when its transaction commits. Each user has one, replaced when their groups or own
permissions change (`user.groups`, `group.user_set`, `user.user_permissions`, from either
side); one **generation** for everyone is replaced when a group's permissions change or a group
or permission is deleted or a permission saved. Model signals find these changes wherever they
come from (the admin, the services, the role commands). An entry is served only under the two
tokens it was read under, and they are read before the permissions, so a set read before a
change, or inside the changing transaction before it commits, is never served after it.

Superusers (every permission, from a flag, not rows) and inactive users (none) are not cached.
Without Redis the `permissions` cache is a dummy: a copy in one process's memory would not hear
of the changes another process makes.
"""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

CACHE = "permissions"
GENERATION = "generation"
ENTRY_TTL = 60 * 60  # the tokens decide; the TTL only frees memory


def load(user) -> None:
    """Give `user` its permission set for this request from the cache, or read and cache it."""
    if not user.is_active or user.is_superuser or hasattr(user, "_perm_cache"):
        return
    cache = caches[CACHE]
    version, entry_key = _version_key(user.pk), f"user:{user.pk}"
    values = cache.get_many([GENERATION, version, entry_key])
    tokens = (_current(cache, values, GENERATION), _current(cache, values, version))
    entry = values.get(entry_key)
    if entry is not None and entry[0] == tokens:
        user._perm_cache = entry[1]
        return
    permissions = ModelBackend().get_all_permissions(user)
    cache.set(entry_key, (tokens, permissions), ENTRY_TTL)


def forget_all() -> None:
    """Nothing cached so far is served again (tests start with this)."""
    caches[CACHE].delete(GENERATION)


def _version_key(user_id) -> str:
    return f"version:{user_id}"


def _current(cache, values: dict, key: str) -> str:
    """The token `key` holds; a fresh one when it has none (first use, or evicted)."""
    if values.get(key):
        return values[key]
    cache.add(key, secrets.token_hex(8), timeout=None)
    return cache.get(key) or ""


def _replace(keys: list[str]) -> None:
    """New tokens for `keys` now, and again once the transaction commits."""

    def replace_tokens():
        caches[CACHE].set_many({key: secrets.token_hex(8) for key in keys}, timeout=None)

    replace_tokens()
    transaction.on_commit(replace_tokens, robust=True)


def everyones_permissions_changed(**kwargs) -> None:
    _replace([GENERATION])


def holders_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A change of `User.groups` or `User.user_permissions`, seen from the user or from the
    group or permission (whose `user_set` names the users before a clear)."""
    if action not in ("post_add", "post_remove", "pre_clear", "post_clear"):
        return
    if not reverse:
        users = [instance.pk] if action != "pre_clear" else []
    elif action == "pre_clear":
        users = list(instance.user_set.values_list("pk", flat=True))
    else:
        users = list(pk_set or ())
    if users:
        _replace([_version_key(pk) for pk in users])


def connect() -> None:
    """Listen to every change of who holds which permission (ItsmConfig.ready())."""
    user_model = get_user_model()
    for through in (user_model.groups.through, user_model.user_permissions.through):
        m2m_changed.connect(holders_changed, sender=through, dispatch_uid=f"perms-{through}")
    m2m_changed.connect(
        everyones_permissions_changed, sender=Group.permissions.through, dispatch_uid="perms-group"
    )
    for model in (Group, Permission):
        post_delete.connect(
            everyones_permissions_changed, sender=model, dispatch_uid=f"perms-del-{model}"
        )
    post_save.connect(everyones_permissions_changed, sender=Permission, dispatch_uid="perms-save")
    # Migrations grant through historical models and create permissions in bulk, neither of
    # which sends the signals above: a deploy's `migrate` starts every user afresh.
    post_migrate.connect(everyones_permissions_changed, dispatch_uid="perms-migrate")
