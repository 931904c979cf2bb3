"""Open sockets follow what ends a user's access to the portal (itsm.live): signing out,
deactivation, a role taken away. Connected in ItsmConfig.ready()."""

from django.contrib.auth import get_user_model, user_logged_out
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver

from itsm import live

User = get_user_model()


@receiver(user_logged_out)
def close_the_sessions_sockets(sender, request, user, **kwargs):
    if user is not None:
        live.revoke(user.pk, session_key=request.session.session_key)


@receiver(post_save, sender=User)
def close_a_deactivated_users_sockets(sender, instance, update_fields, **kwargs):
    """Told again whenever an inactive user is saved: harmless, they have no socket left."""
    if not instance.is_active and (update_fields is None or "is_active" in update_fields):
        live.revoke(instance.pk)


@receiver(m2m_changed, sender=User.groups.through)
def recheck_sockets_of_users_losing_roles(sender, instance, action, reverse, pk_set, **kwargs):
    for user_id in users_losing_roles(instance, action, reverse, pk_set):
        live.access_changed(user_id)


def users_losing_roles(instance, action: str, reverse: bool, pk_set) -> list:
    """The ids of the users a change of `User.groups` may have taken a role from, seen from
    the user (`user.groups.remove(...)`) or from the group (`group.user_set.remove(...)`)."""
    if not reverse:
        return [instance.pk] if action in ("post_remove", "post_clear") else []
    if action == "post_remove":
        return list(pk_set)
    if action == "pre_clear":  # after the clear, the group no longer knows its members
        return list(instance.user_set.values_list("pk", flat=True))
    return []
