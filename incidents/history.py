"""How a change on the record is shown to people, the same way in the portal's history and in
the admin's: a field by its verbose name, a choice by its label, a person by their name (the API
keeps usernames), a linked record by its number or slug."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format

from itsm.templatetags.people import display_name

WHEN = "j M Y H:i:s"
# A linked record by the attribute people know it by; any other by its str().
RECORD_NAMES = {
    "incidents.incident": "number",
    "incidents.team": "slug",
    "incidents.service": "slug",
}


def username(user) -> str:
    return user.get_username()


def record_name(record: models.Model, *, person=display_name) -> str:
    """A linked record as a person reads it; `person` names users (display_name by default)."""
    if isinstance(record, get_user_model()):
        return person(record)
    attribute = RECORD_NAMES.get(record._meta.label_lower)
    return getattr(record, attribute) if attribute else str(record)


def shown_value(model: type[models.Model], field_name: str, value):
    """A stored value as the portal shows it: a choice by its label, a linked record by its
    name, a moment in the current time zone, anything else as it is."""
    if isinstance(value, models.Model):
        return record_name(value)
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), WHEN)
    field = model._meta.get_field(field_name)
    if field.choices and not isinstance(value, list):
        return dict(field.flatchoices).get(value, value)
    return value


def label_changes(model: type[models.Model], rows: list[dict]) -> list[dict]:
    """History rows (selectors.history_with_diffs) with each changed field named by its verbose
    name and each value shown as the portal shows it."""
    for change in (change for row in rows for change in row["changes"]):
        change["label"] = model._meta.get_field(change["field"]).verbose_name
        change["old"] = shown_value(model, change["field"], change["old"])
        change["new"] = shown_value(model, change["field"], change["new"])
    return rows
