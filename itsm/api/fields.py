"""Serializer fields every API shares."""

from rest_framework import serializers

from itsm.validation import NOT_TEXT, UNSTORABLE, UNSTORABLE_MESSAGE


class TextLookupField(serializers.SlugRelatedField):
    """A related object named by text: a slug, a username, a number. Every writable related
    field of the API is one (a test walks the serializers to check). A value that is not text,
    or text no database can hold (a NUL, an unpaired surrogate), is refused before the lookup:
    PostgreSQL cannot compare it, and the query would fail (a 500)."""

    default_error_messages = {"not_text": NOT_TEXT, "unstorable": UNSTORABLE_MESSAGE}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text")
        if UNSTORABLE.search(data):
            self.fail("unstorable")
        return super().to_internal_value(data)
