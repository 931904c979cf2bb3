"""Integrations and received payloads: the writes the API and the admin make."""

import time

from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.alerts import drain, ingest, intake, receive
from incidents.choices import PayloadOutcome
from incidents.models import Integration, ReceivedPayload
from incidents.models.alerts import new_integration_key
from itsm.errors import ConflictError, PermissionDeniedError, ValidationFailed

# Replaying is fixing an integration's mapping and running what it refused: its managers'.
REPLAY_PERMISSION = "incidents.change_integration"
BAD_SIGNATURE = "The signature does not match the body."
# How long a replay applies its integration's pending payloads (its own is the newest) before
# it answers with its replay still pending, for the worker.
REPLAY_SECONDS = 5.0


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


def received_payload_replay(*, payload: ReceivedPayload, actor) -> ReceivedPayload:
    """Read a kept payload again through its integration's current parsing, mapping and
    signature, as its endpoint would, and apply it as the worker would, at once. The outcome
    is a new payload row whose `replay_of` is the original, which stays as it was (still
    `pending` when a worker holds the integration: it applies the replay next).
    Deduplication applies as to any payload: replaying one twice opens one incident. An
    inactive integration's payloads are not replayed (409), as its endpoint refuses them."""
    if actor is not None and not actor.has_perm(REPLAY_PERMISSION):
        raise PermissionDeniedError("You do not have permission to do this.")
    if not Integration.objects.filter(pk=payload.integration_id, active=True).exists():
        raise ConflictError(
            "The payload's integration is inactive: activate it before replaying its payloads."
        )
    replay = _replay_keep(payload)
    if replay.outcome == PayloadOutcome.PENDING:
        drain.integration_drain(replay.integration_id, until=time.monotonic() + REPLAY_SECONDS)
        intake.drain_wake_or_log()  # for what the replay left (a worker may have skipped it)
    return ReceivedPayload.objects.select_related("group__incident").get(pk=replay.pk)


@transaction.atomic
def _replay_keep(payload: ReceivedPayload) -> ReceivedPayload:
    """The replay's row: pending, or refused as its endpoint would refuse it."""
    original = ReceivedPayload.objects.select_related("integration").get(pk=payload.pk)
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
        return intake.payload_accept(integration, received, original.group_key)
    except ValidationFailed:
        return original.replays.latest("pk")
