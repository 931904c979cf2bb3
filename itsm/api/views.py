from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

# What a slug in an API path may be. Routing anything else away answers 404 before a lookup:
# PostgreSQL refuses some characters (NUL) in a text comparison, which would be a 500.
SLUG_PATTERN = r"[-\w]+"

ERROR_SCHEMA = inline_serializer(
    "Error",
    fields={
        "error": inline_serializer(
            "ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField()),
                "request_id": serializers.CharField(
                    required=False, help_text="A server error's id, as in its log line."
                ),
            },
        )
    },
)


def error_responses(*codes: int) -> dict:
    """OpenAPI responses for the error codes an endpoint can answer."""
    return {code: OpenApiResponse(ERROR_SCHEMA) for code in codes}
