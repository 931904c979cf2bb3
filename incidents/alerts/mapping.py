"""The generic JSON integration's field mapping: paths into any sender's JSON and a tiny
resolve condition (models/alerts.py validates them on save; parsing.py reads payloads).

A path is dotted names into the JSON (`alert.labels.severity`); a number indexes a list
(`alerts.0.title`). The resolve condition is a path and a comparison with JSON values, nothing
more: `status == "resolved"` or `state in ["ok", "resolved"]`. Nothing is evaluated: the
condition is parsed into a path and a set of values, so no input can run code.
"""

import json
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

PATH = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
CONDITION = re.compile(
    r"\s*(?P<path>[^\s=]+)\s*(?P<op>==|(?<=\s)in\b)\s*(?P<values>.+?)\s*", re.DOTALL
)
SCALARS = (str, int, float, bool, type(None))
MISSING = object()
PATH_HELP = "Dotted names into the JSON, a number indexing a list: alert.labels.severity"
CONDITION_HELP = (
    'A path and == a JSON value, or in a list of them: status == "resolved", '
    'state in ["ok", "resolved"]. Empty: every payload fires.'
)


@dataclass(frozen=True)
class Condition:
    path: str
    values: tuple

    def holds(self, data) -> bool:
        """True when the path is present and its value is one of the values (an absent path
        is a firing payload: senders often only say when something resolved)."""
        value = lookup(data, self.path)
        return value is not MISSING and any(_same(value, v) for v in self.values)


def _same(a, b) -> bool:
    """JSON equality: true is not 1."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def validate_path(path: str) -> None:
    if not PATH.fullmatch(path):
        raise ValidationError(f"Not a path: {PATH_HELP}.")


def parse_condition(text: str) -> Condition:
    """The condition `text`, parsed; ValidationError saying what is wrong."""
    match = CONDITION.fullmatch(text)
    if match is None:
        raise ValidationError(f"Not a condition: {CONDITION_HELP}")
    validate_path(match["path"])
    try:
        values = json.loads(match["values"])
    except ValueError:
        raise ValidationError(f"Not a JSON value: {match['values']}.") from None
    if match["op"] == "in":
        if not isinstance(values, list) or not values:
            raise ValidationError('"in" takes a JSON list of values: ["ok", "resolved"].')
    else:
        values = [values]
    if not all(isinstance(value, SCALARS) for value in values):
        raise ValidationError("Compare with text, numbers, true, false or null only.")
    return Condition(path=match["path"], values=tuple(values))


def lookup(data, path: str):
    """The value at `path` in `data`, or MISSING."""
    for name in path.split("."):
        if isinstance(data, dict) and name in data:
            data = data[name]
        elif isinstance(data, list) and name.isdigit() and int(name) < len(data):
            data = data[int(name)]
        else:
            return MISSING
    return data
