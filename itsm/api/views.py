from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer

# What a slug in an API path may be. Routing anything else away answers 404 before a lookup:
# PostgreSQL refuses some characters (NUL) in a text comparison, which would be a 500.
SLUG_PATTERN = r"[-\w]+"


class _JsonErrors:
    """The schema and its docs page answer a failure (a method they do not take) in the API's
    JSON error shape, not in their own format (YAML, an HTML page)."""

    http_method_names = ["get", "head"]

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class SchemaView(_JsonErrors, SpectacularAPIView):
    """/api/schema/: the OpenAPI schema, as YAML (JSON with `?format=json`)."""


class DocsView(_JsonErrors, SpectacularSwaggerSplitView):
    """/api/docs/: Swagger UI, whose start-up script is a file of its own (the CSP)."""

    template_name = "itsm/api_docs.html"
