"""drf-spectacular extensions: how the schema describes our bearer tokens and sessions, and
the errors every operation can answer (in the API's one error shape)."""

from drf_spectacular import openapi
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema_field, inline_serializer
from rest_framework import serializers

from itsm.api.viewsets import WRITE_METHODS
from itsm.idempotency import HEADER


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "itsm.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `manage.py create_token USERNAME`.",
        }


class VerifiedSessionScheme(SessionScheme):
    """The session cookie, as drf-spectacular describes Django's (verified or not is no matter
    of the schema)."""

    target_class = "itsm.api.authentication.VerifiedSessionAuthentication"


@extend_schema_field(
    {
        "type": "object",
        "description": "Each bad field: its messages; for a list of items, an object mapping "
        "each bad item's position to that item's errors, in the same shape.",
        "additionalProperties": {
            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]
        },
    }
)
class FieldErrorsField(serializers.DictField):
    """`error.fields`: described by hand, since a list field's errors are an object."""


ERROR = inline_serializer(
    "Error",
    fields={
        "error": inline_serializer(
            "ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": FieldErrorsField(),
                "request_id": serializers.CharField(
                    required=False, help_text="A server error's id, as in its log line."
                ),
            },
        )
    },
)

# The errors any request may get: a bad request (a body too large counts), no or a bad token,
# a role that does not allow it, nothing there (or a page past the last), an address throttled
# for bad tokens, a fault of the server.
EVERY_OPERATION_ERRORS = ("400", "401", "403", "404", "429", "500")
# And a write: a state that does not allow it, a body in a format the API does not read.
WRITE_ERRORS = ("409", "415")
# Any write: its Idempotency-Key sent before with another request.
KEYED_ERRORS = ("422",)
IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="1 to 255 printable ASCII characters. A retry with the same key, method, path "
    "and body is answered with the first answer (header `Idempotent-Replayed: true`) and "
    "writes nothing; kept 24 hours, per user. See docs/api.md, Retries and Idempotency-Key.",
)


class AutoSchema(openapi.AutoSchema):
    """Every operation documents, besides its answer, every error the API can give it; every
    write, the Idempotency-Key header."""

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        return [*parameters, IDEMPOTENCY_KEY] if self.method in WRITE_METHODS else parameters

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            bodies.setdefault(
                status, self._get_response_for_code(ERROR, status, direction=direction)
            )
        return bodies

    def _error_statuses(self) -> tuple[str, ...]:
        is_write = self.method in ("POST", "PUT", "PATCH")
        keyed = self.method in WRITE_METHODS
        return (
            EVERY_OPERATION_ERRORS
            + (WRITE_ERRORS if is_write else ())
            + (KEYED_ERRORS if keyed else ())
        )
