"""Email subscribers of the public status page (docs/status-page.md, "Subscribers")."""

import secrets

from django.db import models
from django.utils import timezone

from warroom.models.status import StatusComponent

__all__ = ["StatusSubscriber"]


def new_token() -> str:
    return secrets.token_urlsafe(32)


class StatusSubscriber(models.Model):
    """An email address told of every public update: of the whole page (no components) or of
    the chosen components. Mailed only once confirmed (double opt-in) and until unsubscribed.
    Its links carry `link_token` ("<pk>.<token>"), compared in constant time."""

    email = models.EmailField(unique=True, help_text="Lower-case.")
    components = models.ManyToManyField(StatusComponent, related_name="subscribers", blank=True)
    token = models.CharField(max_length=64, default=new_token, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    confirmation_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last confirmation link was emailed."
    )
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set only when the owner of the address follows the link emailed to it "
        "(double opt-in). Nobody can confirm an address for them: that would email people who "
        "never agreed to it.",
    )
    unsubscribed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="No email is sent after this; subscribing again starts anew.",
    )

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    @property
    def link_token(self) -> str:
        return f"{self.pk}.{self.token}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None
