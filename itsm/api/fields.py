"""Serializer fields and filters every API shares."""

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField
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


class _UtcIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # an offset that takes year 1 or 9999 beyond the calendar
            raise ValidationError("Out of range.", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 moment, with any offset, compared in UTC: PostgreSQL refuses an offset
    beyond ±15:59 (`+17:28`), which Python accepts, and the query would fail (a 500)."""

    field_class = _UtcIsoDateTimeField
