from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

# What a slug in an API path may be. Routing anything else away answers 404 before a lookup:
# PostgreSQL refuses some characters (NUL) in a text comparison, which would be a 500.
SLUG_PATTERN = r"[-\w]+"
_LANGUAGES = {code for code, _ in settings.LANGUAGES}

_SCHEMAS: dict[str, dict] = {}  # language -> the schema; see SchemaView
_RENDERED: dict[tuple[str, str], tuple[bytes, str]] = {}  # (language, media type) -> body, type


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
    process builds it once per language (building it took 1.2-2.4 s) and renders it once per
    language and format (rendering the YAML took 160-560 ms of every request)."""

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        language = translation.get_language()
        renderer, media_type = request.accepted_renderer, request.accepted_media_type
        # rare (a version, an unknown language, media type parameters): not worth keeping
        if version is not None or language not in _LANGUAGES or media_type != renderer.media_type:
            return super()._get_schema_response(request)
        if (language, media_type) not in _RENDERED:
            _RENDERED[language, media_type] = self._render(self._schema(request, language))
        body, content_type = _RENDERED[language, media_type]
        filename = self._get_filename(request, version)
        return HttpResponse(
            body,
            content_type=content_type,
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )

    def _schema(self, request, language: str) -> dict:
        if language not in _SCHEMAS:
            generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
            _SCHEMAS[language] = generator.get_schema(request=request, public=self.serve_public)
        return _SCHEMAS[language]

    def _render(self, schema: dict) -> tuple[bytes, str]:
        """The body and content type DRF gives `schema` in the negotiated format."""
        response = Response(schema)
        response.accepted_renderer = self.request.accepted_renderer
        response.accepted_media_type = self.request.accepted_media_type
        response.renderer_context = self.get_renderer_context()
        return response.rendered_content, response["Content-Type"]


class DocsView(_JsonErrors, SpectacularSwaggerSplitView):
    """/api/docs/: Swagger UI, whose start-up script is a file of its own (the CSP)."""

    template_name = "itsm/api_docs.html"
