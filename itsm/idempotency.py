"""`Idempotency-Key` on API writes: a retried write is answered, not done again (docs/api.md).

The key's row is inserted first in the write's own transaction and the answer is stored in it
before the commit. A retry arriving meanwhile inserts the same (user, key), waits on the unique
index until the first commits, gets an IntegrityError, rolls its transaction back and replays
the stored answer; if the first rolled back (a 5xx), the retry's insert goes through and the
write runs again."""

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError
from django.http import HttpResponse
from django.utils import timezone

from itsm.errors import ApplicationError, ValidationFailed
from itsm.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT = timedelta(hours=24)
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII


class KeyTaken(Exception):
    """The key is already another request's, committed: raised to roll this write back."""

    def __init__(self, request: "IdempotentRequest", user):
        super().__init__(request.key)
        self.request = request
        self.user = user


@dataclass(frozen=True)
class IdempotentRequest:
    """What a key promises: the same method, path and body."""

    key: str
    method: str
    path: str
    body_digest: str

    @classmethod
    def of(cls, request) -> "IdempotentRequest | None":
        """The key a Django request sends, or None. Reads the body (Django keeps it), so call
        it before anything parses the body."""
        key = request.headers.get(HEADER)
        if key is None:
            return None
        return cls(
            key=key,
            method=request.method,
            path=request.get_full_path(),
            body_digest=hashlib.sha256(request.body).hexdigest(),
        )

    def claim(self, *, user) -> IdempotencyKey:
        """Insert the key in the current transaction, first. ValidationFailed for a malformed
        key; KeyTaken when the key was used (waits for a transaction using it to end)."""
        if not _VALID_KEY.fullmatch(self.key):
            raise ValidationFailed.for_fields(
                {HEADER: "1 to 255 printable ASCII characters (letters, digits, punctuation)."}
            )
        try:
            return IdempotencyKey.objects.create(
                user=user,
                key=self.key,
                method=self.method,
                path=self.path,
                body_digest=self.body_digest,
            )
        except IntegrityError as taken:
            raise KeyTaken(self, user) from taken

    def matches(self, row: IdempotencyKey) -> bool:
        return (row.method, row.path, row.body_digest) == (
            self.method,
            self.path,
            self.body_digest,
        )


def answer_keep(*, row: IdempotencyKey, response) -> None:
    """Store the write's rendered answer (under 500: a 5xx rolls the write and its key back)
    with its key, in the write's transaction."""
    row.status = response.status_code
    row.content_type = response.get("Content-Type", "")
    row.body = response.content
    row.save(update_fields=["status", "content_type", "body"])


def key_used(*, user, request: IdempotentRequest) -> IdempotencyKey | None:
    """The committed row of a key used within KEPT, or None when there is none (any older
    row is deleted, so the key can be claimed again)."""
    row = IdempotencyKey.objects.filter(user=user, key=request.key).first()
    if row is not None and row.created_at <= timezone.now() - KEPT:
        IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()
        return None
    return row


def answer_replay(row: IdempotencyKey) -> HttpResponse:
    """The first answer again: its status, body and content type, flagged as a replay."""
    response = HttpResponse(bytes(row.body), status=row.status)
    if row.content_type:
        response["Content-Type"] = row.content_type
    else:
        del response["Content-Type"]
    response[REPLAYED_HEADER] = "true"
    return response


class KeyReused(ApplicationError):
    """A key sent again with another method, path or body."""

    status = 422
    code = "idempotency_key_reused"

    @classmethod
    def for_row(cls, row: IdempotencyKey) -> "KeyReused":
        return cls(
            f"This {HEADER} was used in the last 24 hours for another request ({row.method} "
            f"{row.path}, or another body). Send a new key for a new request; a retry must "
            "repeat the method, path and body exactly."
        )


def idempotency_keys_sweep() -> int:
    """Delete the keys older than KEPT (django-q2's schedule, hourly); how many."""
    return IdempotencyKey.objects.filter(created_at__lte=timezone.now() - KEPT).delete()[0]
