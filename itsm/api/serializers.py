"""Request bodies refuse what they do not take.

DRF ignores a field a serializer does not know: `"service": "payments"` (for `services`) would
log an incident with no service, and `"status"` in a PATCH would be dropped without a word. Every
serializer that reads a body derives from StrictSerializer or StrictModelSerializer, so such a
body is a 400 naming each field, together with any other bad field, and nothing is written.
"""

from collections.abc import Mapping

from rest_framework import serializers

UNKNOWN = "Unknown field: this endpoint does not take it."
READ_ONLY = "This field is read-only: it cannot be set here."


class RefusesUnknownFields:
    def to_internal_value(self, data):
        refused = self._refused_fields(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if refused and isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**error.detail, **refused}) from error
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value

    def _refused_fields(self, data) -> dict:
        if not isinstance(data, Mapping):
            return {}
        fields = self.fields
        return {
            name: [READ_ONLY if name in fields else UNKNOWN]
            for name in data
            if name not in fields or fields[name].read_only
        }


class StrictSerializer(RefusesUnknownFields, serializers.Serializer):
    """A request body of exactly these fields."""


class StrictModelSerializer(RefusesUnknownFields, serializers.ModelSerializer):
    """A model's request body of exactly its writable fields."""


class EmptyBody(StrictSerializer):
    """The body of an action that takes none: `{}` or nothing at all."""


def refuse_any_body(request) -> None:
    """An action that takes no body answers 400 to one that has fields, naming them, rather
    than acting as if they had been understood."""
    EmptyBody(data=request.data).is_valid(raise_exception=True)
