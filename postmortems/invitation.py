"""The review meeting's iCalendar invitation (RFC 5545, built with the icalendar library): one
VEVENT whose UID stays the same for the meeting's life and whose SEQUENCE counts its moves, so a
calendar that received the first invitation updates the entry rather than adding another."""

from datetime import UTC

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from itsm.channels import portal_url
from itsm.templatetags.people import display_name

PRODID = "-//ITSM portal//Post-incident reviews//EN"
MIMETYPE = "text/calendar"


def review_path(number: str) -> str:
    """The review's portal page (/postmortems/<number>/)."""
    return reverse("postmortems:detail", args=[number])


def ics_filename(number: str) -> str:
    return f"{number}-review.ics"


def _address(email: str, name: str, **params) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["cn"] = vText(name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def _organizer(owner) -> vCalAddress:
    if owner is not None and owner.email:
        return _address(owner.email, display_name(owner))
    return _address(settings.DEFAULT_FROM_EMAIL, "ITSM portal")


def _description(meeting, number: str, title: str) -> str:
    link = portal_url(review_path(number)) or review_path(number)
    lines = [f"The blameless review of {number}: {title}", f"The review: {link}"]
    if meeting.bridge_link:
        lines.append(f"Bridge: {meeting.bridge_link}")
    return "\n".join(lines)


def meeting_ics(meeting, *, attendees) -> str:
    """The invitation to `meeting` (its review and incident loaded), as iCalendar text."""
    review = meeting.review
    incident = review.incident
    event = Event()
    event.add("uid", f"{meeting.uid}@itsm-portal")
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", meeting.starts_at.astimezone(UTC))
    event.add("dtend", meeting.ends_at.astimezone(UTC))
    event.add("summary", f"Post-incident review: {incident.number}")
    event.add("description", _description(meeting, incident.number, incident.title))
    where = meeting.location or meeting.bridge_link
    if where:
        event.add("location", where)
    event.add("organizer", _organizer(review.owner))
    for person in attendees:
        if person.email:
            event.add(
                "attendee",
                _address(
                    person.email,
                    display_name(person),
                    role="REQ-PARTICIPANT",
                    partstat="NEEDS-ACTION",
                    rsvp="TRUE",
                ),
            )
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    calendar.add_component(event)
    return calendar.to_ical().decode()
