"""Integrations and received payloads: the writes the API and the admin make."""

from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.alerts import ingest, receive
from incidents.choices import PayloadOutcome
from incidents.models import Integration, ReceivedPayload
from incidents.models.alerts import new_integration_key
from itsm.errors import PermissionDeniedError, ValidationFailed

# Replaying is fixing an integration's mapping and running what it refused: its managers'.
REPLAY_PERMISSION = "incidents.change_integration"
BAD_SIGNATURE = "The signature does not match the body."


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


@transaction.atomic
def received_payload_replay(*, payload: ReceivedPayload, actor) -> ReceivedPayload:
    """Read a kept payload again through its integration's current parsing, mapping and
    signature, as its endpoint would, and apply it. The outcome is a new payload row whose
    `replay_of` is the original, which stays as it was. Deduplication applies as to any
    payload: replaying one twice opens one incident."""
    if actor is not None and not actor.has_perm(REPLAY_PERMISSION):
        raise PermissionDeniedError("You do not have permission to do this.")
    original = (
        ReceivedPayload.objects.select_for_update(of=("self",))
        .select_related("integration__service__owner_team")
        .get(pk=payload.pk)
    )
    integration = original.integration
    received = ingest.Received(body=original.body, headers=original.headers, replay_of=original.pk)
    if not receive.signed(integration, original.headers, original.body.encode()):
        return ingest.payload_record(
            integration=integration,
            received=received,
            outcome=PayloadOutcome.BAD_SIGNATURE,
            error=BAD_SIGNATURE,
        )
    try:
        receive.apply(integration, received)
    except ValidationFailed as error:
        return ingest.payload_record(
            integration=integration,
            received=received,
            outcome=PayloadOutcome.INVALID,
            error=receive.error_text(error, integration.kind),
        )
    return original.replays.select_related("group__incident").latest("pk")
