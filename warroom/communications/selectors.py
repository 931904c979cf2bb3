"""Reads of communications that the pages and the API share."""

from django.db.models import Prefetch, QuerySet

from incidents.models import Incident
from warroom.models import Communication, CommunicationRecipient

VIEW_COMMUNICATION_PERMISSION = "warroom.view_communication"  # every role: stakeholders read


def communications_of(incident: Incident) -> QuerySet[Communication]:
    """The incident's communications, newest first, with their audience, authors and
    recipients: two queries however many there are (one when there are none)."""
    recipients = CommunicationRecipient.objects.select_related("user").order_by("kind", "address")
    return (
        Communication.objects.filter(incident=incident)
        .select_related("audience", "created_by", "sent_by")
        .prefetch_related(Prefetch("recipients", queryset=recipients))
    )
