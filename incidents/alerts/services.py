"""Integrations: the writes the API and the admin make."""

from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.models import Integration
from incidents.models.alerts import new_integration_key
from itsm.errors import PermissionDeniedError, ValidationFailed


@transaction.atomic
def integration_create(*, actor, **fields) -> Integration:
    """A new integration with a fresh random key."""
    if actor is not None and not actor.has_perm("incidents.add_integration"):
        raise PermissionDeniedError("You do not have permission to do this.")
    integration = Integration(**fields)
    try:
        integration.full_clean()
    except ValidationError as error:
        raise ValidationFailed.for_fields(error.message_dict) from None
    integration.save()
    return integration


@transaction.atomic
def integration_regenerate_key(*, actor, integration: Integration) -> Integration:
    """A fresh key: the old one answers 404 from now on (every sender needs the new URL)."""
    if actor is not None and not actor.has_perm("incidents.change_integration"):
        raise PermissionDeniedError("You do not have permission to do this.")
    integration.key = new_integration_key()
    integration.save(update_fields=["key"])
    return integration
