"""CSV beside JSON for the API's tables (`Accept: text/csv` or `?format=csv`)."""

from rest_framework.renderers import BaseRenderer, JSONRenderer

CSV = "text/csv"


class CsvRenderer(BaseRenderer):
    """The CSV text the view wrote, as it is; anything else (an error's body) is answered as
    JSON, in the API's error shape, whatever format was asked for."""

    media_type = CSV
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        renderer_context["response"]["Content-Type"] = JSONRenderer.media_type
        return JSONRenderer().render(data)
