"""Label matchers in Prometheus Alertmanager's syntax, for the alert routing rules.

`severity="critical", service=~"auth|payment"` holds for an alert whose labels satisfy every
matcher: `=` equal, `!=` not equal, `=~` matches the regular expression, `!~` does not. As in
Alertmanager, a regular expression is anchored at both ends and an absent label is the empty
string (so `team!="db"` holds for an alert without a team). Braces around the list are allowed.
Matchers are parsed once into a tuple, never evaluated as code.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

HELP = (
    'Alertmanager matchers, comma-separated: severity="critical", service=~"auth|payment". '
    "= equal, != not equal, =~ matches the regular expression (anchored), !~ does not; "
    "an absent label is empty. Empty: every alert."
)
MATCHER = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)\s*(?P<op>=~|!~|!=|=)\s*
        (?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^,"\s{}]*))\s*(?:,|$)""",
    re.VERBOSE,
)
ESCAPED = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    pattern: re.Pattern | None = None

    def holds(self, labels: dict) -> bool:
        actual = str(labels.get(self.name, ""))
        if self.pattern is not None:
            return bool(self.pattern.fullmatch(actual)) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")


def parse(text: str) -> tuple[Matcher, ...]:
    """The matchers `text` names; a ValidationError saying where it stopped making sense."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1].strip()
    matchers, position = [], 0
    while position < len(body):
        found = MATCHER.match(body, position)
        if found is None or found.end() == position:
            raise ValidationError(
                f"Cannot read a matcher at “{body[position : position + 30]}”: "
                'write name="value", separated by commas.'
            )
        matchers.append(_matcher(found))
        position = found.end()
    return tuple(matchers)


def _matcher(found: re.Match) -> Matcher:
    name, op = found["name"], found["op"]
    quoted = found["quoted"]
    value = ESCAPED.sub(r"\1", quoted) if quoted is not None else found["bare"]
    if op not in ("=~", "!~"):
        return Matcher(name, op, value)
    try:
        return Matcher(name, op, value, re.compile(value))
    except re.error as error:
        message = f"{name}{op}“{value}” is not a regular expression: {error}."
        raise ValidationError(message) from None


def all_hold(matchers: tuple[Matcher, ...], labels: dict) -> bool:
    return all(matcher.holds(labels) for matcher in matchers)
