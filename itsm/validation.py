"""Field checks the services share: each adds a message to `errors` under the field's name,
so one ValidationFailed names every bad field at once."""

import re

from itsm.errors import ValidationFailed

# Text no database stores: a NUL (PostgreSQL refuses it), or half of a UTF-16 surrogate pair
# (JSON can carry "\ud800"; no UTF-8 text can).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Must not contain NUL characters or unpaired surrogates."
NOT_TEXT = "Must be text."


def clean_text(errors: dict, name: str, value, *, required: bool, max_length: int) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        errors[name] = NOT_TEXT
        return ""
    if UNSTORABLE.search(text):
        errors[name] = UNSTORABLE_MESSAGE
    elif required and not text:
        errors[name] = "This field is required."
    elif len(text) > max_length:
        errors[name] = f"Ensure this field has no more than {max_length} characters."
    return text


def typed_text(errors: dict, name: str, value, *, max_length: int) -> str:
    """Text as a person is typing it (a live editor's): kept exactly, spaces included."""
    if not isinstance(value, str):
        errors[name] = NOT_TEXT
        return ""
    if UNSTORABLE.search(value):
        errors[name] = UNSTORABLE_MESSAGE
    elif len(value) > max_length:
        errors[name] = f"Ensure this field has no more than {max_length} characters."
    return value


def version_number(errors: dict, name: str, value) -> int:
    """A version a live edit was typed against: a whole number, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors[name] = "Must be a version number (0 or more)."
        return 0
    return value


def one_text(name: str, value, *, required: bool, max_length: int) -> str:
    """One text field cleaned, or ValidationFailed naming it."""
    errors: dict = {}
    text = clean_text(errors, name, value, required=required, max_length=max_length)
    raise_if(errors)
    return text


def raise_if(errors: dict) -> None:
    if errors:
        raise ValidationFailed.for_fields(errors)


def choice(errors: dict, name: str, value, choices) -> object:
    if value in choices.values:
        return value
    errors[name] = f"{value!r} is not one of {', '.join(map(str, choices.values))}."
    return None
