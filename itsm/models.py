import base64
import hashlib
import os
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from itsm.choices import (
    AuthEventKind,
    ChatKind,
    NotificationChannel,
    NotificationStatus,
    OutboxStatus,
    WebhookDeliveryStatus,
    WebhookEvent,
)
from itsm.safe_urls import validate_webhook_url

TOKEN_PREFIX = "itsm_"


def hash_token(raw: str) -> str:
    """Tokens are long random strings, so one SHA-256 is enough; only the hash is stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class OidcIdentity(models.Model):
    """Who a user is at the OpenID provider. Single sign-on finds its user by this pair only,
    never by username or email, so a provider account never takes over a local one."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255, help_text="The provider's `sub` claim.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "OpenID identity"
        verbose_name_plural = "OpenID identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique")
        ]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(
        max_length=12, editable=False, help_text="First characters, to tell tokens apart."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    first_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Kept to within five minutes."
    )

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.hint}… ({self.user})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


# The only environment variables a chat webhook may name. A manager configures webhooks, so
# allowing any name would let them point a failed delivery at SECRET_KEY or DATABASE_URL.
WEBHOOK_ENV_PREFIXES = {ChatKind.SLACK: "SLACK_WEBHOOK_", ChatKind.TEAMS: "TEAMS_WEBHOOK_"}
WEBHOOK_ENV_PATTERN = r"^(SLACK|TEAMS)_WEBHOOK_[A-Z0-9_]+$"


def is_webhook_env(name: str) -> bool:
    return re.fullmatch(WEBHOOK_ENV_PATTERN, name or "") is not None


class ChatWebhook(models.Model):
    """A Slack or Teams channel. Its URL is a secret, so the database holds only the name of
    the environment variable that carries it: `SLACK_WEBHOOK_*` for Slack, `TEAMS_WEBHOOK_*`
    for Teams, and no other."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ChatKind.choices)
    url_env = models.CharField(
        max_length=100,
        validators=[
            RegexValidator(
                WEBHOOK_ENV_PATTERN,
                "Name an environment variable starting SLACK_WEBHOOK_ or TEAMS_WEBHOOK_.",
            )
        ],
        help_text=(
            "Environment variable holding the webhook URL: SLACK_WEBHOOK_… for Slack, "
            "TEAMS_WEBHOOK_… for Teams (e.g. SLACK_WEBHOOK_OPS)."
        ),
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self):
        prefix = WEBHOOK_ENV_PREFIXES.get(self.kind)
        if prefix and self.url_env and not self.url_env.startswith(prefix):
            raise ValidationError(
                {"url_env": f"A {self.get_kind_display()} webhook's variable starts {prefix}."}
            )

    def url(self) -> str:
        """The webhook URL, read only from a variable of the allowed pattern (a row written
        before the pattern existed, or around the validation, reads nothing)."""
        if not is_webhook_env(self.url_env):
            return ""
        return os.environ.get(self.url_env, "")


class Notification(models.Model):
    """Every message the portal sends, with its outcome. `dedupe_key` makes a message about one
    event to one recipient exist once, however often the code that sends it runs."""

    channel = models.CharField(max_length=10, choices=NotificationChannel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    webhook = models.ForeignKey(
        ChatWebhook, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True, help_text="Portal path it is about.")
    context = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When its next attempt was handed to the worker's queue; cleared when a worker claims it.
    queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_retry_idx",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["recipient", "channel", "read_at"], name="notification_inbox_idx"),
        ]

    def __str__(self):
        to = self.recipient or self.webhook or self.context.get("to")
        return f"{self.get_channel_display()} to {to}: {self.subject}"


class AuthEvent(models.Model):
    """The audit log of authentication: sign-ins, sign-outs, failures, lockouts and API token
    life. `username` is the account's name, kept when the user is deleted; at a failed sign-in
    with a name that is no account, only its first two characters and length
    (itsm.audit.shown_username)."""

    kind = models.CharField(max_length=20, choices=AuthEventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    ip_address = models.CharField("IP address", max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "authentication event"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["kind", "at"], name="authevent_kind_at_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.username or '—'} at {self.at:%Y-%m-%d %H:%M:%S}"


WEBHOOK_SECRET_PREFIX = "whsec_"


def generate_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64, as Svix makes them."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def validate_event_types(value) -> None:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError("A list of event type names.")
    unknown = sorted(set(value) - set(WebhookEvent.values))
    if unknown:
        raise ValidationError(
            f"Unknown event type: {', '.join(unknown)}. Known: {', '.join(WebhookEvent.values)}."
        )


class WebhookSubscription(models.Model):
    """An outbound webhook: events of the chosen types are posted to `url`, signed per the
    Standard Webhooks spec with `secret` (and, during a rotation, `previous_secret` too).
    Secrets are kept in clear because signing needs them; they are shown once."""

    name = models.CharField(max_length=100)
    url = models.URLField("URL", max_length=500, validators=[validate_webhook_url])
    event_types = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_event_types],
        help_text="The events to send; none while empty.",
    )
    active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, default=generate_webhook_secret, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "webhook subscription"
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class WebhookDelivery(models.Model):
    """One event for one subscription: an outbox row written in the transaction of the change
    it reports, then sent (and retried) by the worker. `message_id` is the `webhook-id` of
    every attempt, and one event's id is the same for every subscription."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField(help_text="The event's `data`.")
    status = models.CharField(
        max_length=10, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "message_id"], name="webhook_delivery_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.message_id} to {self.subscription}"


class IdempotencyKey(models.Model):
    """An API write's `Idempotency-Key` and its first answer, kept 24 hours (itsm/idempotency.py).

    The row is inserted first in the write's own transaction and answered in it, so a
    committed row always has its answer, and a concurrent retry waits on the unique index."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField(help_text="With its query string.")
    body_digest = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=255, blank=True)
    body = models.BinaryField(blank=True, default=b"")

    class Meta:
        verbose_name = "idempotency key"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created_idx")]

    def __str__(self):
        return f"{self.key} ({self.method} {self.path})"


class OutboxItem(models.Model):
    """A step that must follow a committed write (itsm/outbox.py): written in the write's
    transaction, carried out by the worker with the handler registered for its `kind`, and
    retried after a failure until it is done or has failed `outbox.MAX_ATTEMPTS` times."""

    kind = models.CharField(max_length=80)
    payload = models.JSONField(default=dict, help_text="The handler's argument.")
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(
        help_text="When the clock queues it: the end of its lease, or of its back-off."
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbox item"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["due_at"], name="outbox_due_idx", condition=models.Q(status="pending")
            ),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk}"
