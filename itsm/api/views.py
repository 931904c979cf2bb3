from django.conf import settings
from django.utils import translation
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

# What a slug in an API path may be. Routing anything else away answers 404 before a lookup:
# PostgreSQL refuses some characters (NUL) in a text comparison, which would be a 500.
SLUG_PATTERN = r"[-\w]+"
_LANGUAGES = {code for code, _ in settings.LANGUAGES}

_SCHEMAS: dict[str, dict] = {}  # language -> the schema; see SchemaView


class _JsonErrors:
    """The schema and its docs page answer a failure (a method they do not take) in the API's
    JSON error shape, not in their own format (YAML, an HTML page)."""

    http_method_names = ["get", "head"]

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class SchemaView(_JsonErrors, SpectacularAPIView):
    """/api/schema/: the OpenAPI schema, as YAML (JSON with `?format=json`).

    The schema is the code's, the same for every request (it is public: SERVE_PUBLIC), so each
    process builds it once per language: building it took 1.2-2.4 s of every request."""

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        language = translation.get_language()
        if version is not None or language not in _LANGUAGES:  # rare: not worth keeping
            return super()._get_schema_response(request)
        if language not in _SCHEMAS:
            generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
            _SCHEMAS[language] = generator.get_schema(request=request, public=self.serve_public)
        filename = self._get_filename(request, version)
        return Response(
            data=_SCHEMAS[language],
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )


class DocsView(_JsonErrors, SpectacularSwaggerSplitView):
    """/api/docs/: Swagger UI, whose start-up script is a file of its own (the CSP)."""

    template_name = "itsm/api_docs.html"
