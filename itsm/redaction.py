"""Keeping configured secrets out of every text the portal stores, shows or logs.

A delivery error can quote the URL it failed on (a Slack or Teams webhook URL is a credential),
and an exception can quote a connection string. `scrub` replaces every configured secret, and
every URL that looks like a chat webhook or carries a password, with `[redacted]`. It is applied
where such text is kept (a notification's `last_error`) and to every log line (`ScrubFilter`).
"""

import logging
import os
import re
from urllib.parse import urlsplit

from django.conf import settings

REDACTED = "[redacted]"
# Environment variables whose values are secrets, by name.
SECRET_ENV_NAME = re.compile(
    r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|WEBHOOK_|DATABASE_URL|REDIS_URL|EMAIL_URL)"
)
# Shorter values are not treated as secrets: replacing them would mangle ordinary words.
MIN_SECRET_LENGTH = 8
SECRET_URL_PATTERNS = (
    # Slack incoming webhooks and Teams (Office 365 and Power Automate) webhooks.
    re.compile(r"https?://hooks\.slack\.com/\S+", re.IGNORECASE),
    re.compile(r"https?://[\w.-]*webhook\.office\.com/\S+", re.IGNORECASE),
    re.compile(r"https?://[\w.-]*\.logic\.azure\.com\S*", re.IGNORECASE),
    # user:password@ in any URL
    re.compile(r"(?<=://)[^\s/:@]+:[^\s/@]+(?=@)"),
)


def _secret_parts(value: str, *, webhook: bool = False) -> list[str]:
    """The value and the secret parts inside it when it is a URL: its password, and for a
    webhook its path and query (an HTTP library's error quotes the path alone)."""
    parts = [value]
    if "://" not in value:
        return parts
    try:
        url = urlsplit(value)
        parts.append(url.password or "")
    except ValueError:
        return parts
    if webhook:
        parts.append(f"{url.path}?{url.query}" if url.query else url.path)
    return parts


def configured_secrets() -> list[str]:
    """Every secret value of this process's configuration, longest first (so a URL is replaced
    whole before the password inside it)."""
    values = [settings.SECRET_KEY, getattr(settings, "EMAIL_HOST_PASSWORD", "")]
    values.append(settings.DATABASES["default"].get("PASSWORD", ""))
    found = {part for value in values if value for part in _secret_parts(value)}
    for name, value in os.environ.items():
        if value and SECRET_ENV_NAME.search(name):
            found.update(_secret_parts(value, webhook="WEBHOOK" in name))
    return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def scrub(text: str) -> str:
    """`text` with every configured secret and secret-bearing URL replaced by `[redacted]`."""
    if not text:
        return text
    for secret in configured_secrets():
        text = text.replace(secret, REDACTED)
    for pattern in SECRET_URL_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class ScrubFilter(logging.Filter):
    """A log handler filter: the message and any traceback leave with secrets scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: let the handler report it
            return True
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True
