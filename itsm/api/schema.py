"""drf-spectacular extensions: how the schema describes our bearer tokens and sessions."""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
