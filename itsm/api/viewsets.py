"""The view sets every API endpoint derives from: DRF's, with each write in one transaction and
the `Idempotency-Key` header honoured (docs/api.md, "Retries and Idempotency-Key")."""

from contextlib import ExitStack

from django.db import transaction
from django.http import JsonResponse
from rest_framework import viewsets

from itsm.idempotency import (
    IdempotentRequest,
    KeyReused,
    KeyTaken,
    answer_keep,
    answer_replay,
    key_used,
)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WriteTransaction:
    """A write (POST, PUT, PATCH, DELETE) runs in one transaction, from after its
    authentication, permission and throttle checks to its rendered answer. So the answer is
    read from what the write did, in its transaction: a write answered 5xx was rolled back (a
    client may retry it without doing it twice), and a write that committed is answered with
    what committed, never a 500 from a re-read after the commit. An error answer (400 and up)
    undoes whatever the write did before it failed.

    An authenticated write sending `Idempotency-Key` claims the key first in that transaction,
    runs in a savepoint after it, and stores its answer (under 500) before the commit; a retry
    replays it (itsm/idempotency.py)."""

    def dispatch(self, request, *args, **kwargs):
        self._writing = False
        self._key_row = None
        if request.method not in WRITE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        self._idempotent = IdempotentRequest.of(request)
        try:
            with ExitStack() as self._transaction:
                with ExitStack() as self._after_key:
                    response = super().dispatch(request, *args, **kwargs)
                self._answered(response)
                return response
        except KeyTaken as taken:  # DRF re-raises it: its exception handler knows it not
            return self._answer_taken(request, taken, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in WRITE_METHODS:
            return
        self._transaction.enter_context(transaction.atomic())
        self._writing = True
        if self._idempotent is not None and request.user.is_authenticated:
            self._key_row = self._idempotent.claim(user=request.user)
            self._after_key.enter_context(transaction.atomic())

    def finalize_response(self, request, response, *args, **kwargs):
        if self._writing and response.status_code >= 400:
            transaction.set_rollback(True)  # the write's; with a key, back to after the key
        return super().finalize_response(request, response, *args, **kwargs)

    def _answered(self, response) -> None:
        """In the transaction, after the write's savepoint: render the answer and keep it with
        its key, or roll everything back with a 5xx."""
        if not self._writing:
            return
        if response.status_code >= 500:
            transaction.set_rollback(True)
            return
        if hasattr(response, "render"):
            response.render()
        if self._key_row is not None:
            answer_keep(row=self._key_row, response=response)

    def _answer_taken(self, request, taken: KeyTaken, *args, **kwargs):
        """After the rollback: the key's first answer, a 422 for another request, or, when
        the key's row was older than 24 hours (now deleted), the write runs again."""
        row = key_used(user=taken.user, request=taken.request)
        if row is None:
            return self.dispatch(request, *args, **kwargs)
        if not taken.request.matches(row):
            error = KeyReused.for_row(row)
            return JsonResponse(error.as_dict(), status=error.status)
        return answer_replay(row)


class GenericViewSet(WriteTransaction, viewsets.GenericViewSet):
    pass


class ViewSet(WriteTransaction, viewsets.ViewSet):
    pass
