"""How the API reads bodies. Every endpoint uses the recursion-safe JSON parser; the major
incident API reads JSON only (`JSON_ONLY`), so that a value's type is the one the client sent:
a form body turns every value into text and a missing checkbox into false."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that JSON nested too deep for Python's decoder is a 400 like
    any malformed body, not a RecursionError (a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


JSON_ONLY = [JSONParser]
