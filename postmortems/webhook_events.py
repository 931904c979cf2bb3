"""The post-incident reviews' outbound webhook event (docs/webhooks.md): a review published.
Emitted inside the publishing transaction. Only the public summary leaves the portal."""

from django.urls import reverse

from incidents.webhook_events import event_data
from itsm.channels import portal_url
from itsm.choices import WebhookEvent
from itsm.webhooks import emit


def review_payload(review) -> dict:
    return {
        "published_at": review.published_at.isoformat() if review.published_at else None,
        "public_summary": review.public_summary,
        "url": portal_url(reverse("postmortems:detail", args=[review.incident.number])),
    }


def emit_published(review, *, actor) -> None:
    emit(
        WebhookEvent.POSTMORTEM_PUBLISHED,
        lambda: event_data(review.incident, actor=actor, review=review_payload(review)),
    )
