"""The review meeting of a major incident: proposed 48 h after resolution at the next business
slot its owner is free, with the war room's role holders and the owner invited by email with an
iCalendar invitation; moved by the owner or a manager, which re-sends the invitation with its
SEQUENCE bumped; downloadable as .ics from the API and the portal."""

from datetime import UTC, datetime, time

import pytest
from django.core import mail
from icalendar import Calendar

from incidents.models import BusinessCalendar, Holiday, IncidentEvent, WorkingHours
from incidents.sla.presets import BUSINESS_CALENDAR_SLUG
from itsm import notifications
from itsm.choices import NotificationChannel
from itsm.models import Notification
from itsm.roles import Role
from postmortems import tasks
from postmortems.models import ReviewMeeting
from tests.conftest import api_error
from tests.postmortems.reviews import at

ATTENDEES = {"ivan", "sid", "eve", "ed", "cora", "mona"}
MAILTO = {f"mailto:{name}@example.org" for name in ATTENDEES}


def url(incident, tail: str = "meeting/") -> str:
    return f"/api/incidents/{incident.number}/postmortem/{tail}"


def proposed(fight_major, resolve_at, **kwargs) -> ReviewMeeting:
    incident = fight_major(resolve_at, **kwargs)
    tasks.ensure_review(incident.pk)
    return ReviewMeeting.objects.get(review__incident=incident)


def invitations(meeting: ReviewMeeting) -> list[Notification]:
    return list(
        Notification.objects.filter(
            channel=NotificationChannel.EMAIL, context__meeting=meeting.pk
        ).order_by("pk")
    )


def ics_event(text: str):
    calendar = Calendar.from_ical(text)
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    return event


def attendees_of(event) -> set[str]:
    return {str(address) for address in event.get("ATTENDEE")}


@pytest.fixture
def meeting(fight_major):
    """Resolved on Monday 2026-03-02 at 11:00 UTC."""
    return proposed(fight_major, at(hours=1))


# --- proposing -----------------------------------------------------------------------------------


def test_it_is_proposed_48_hours_after_resolution_with_the_war_room(meeting):
    assert meeting.starts_at == datetime(2026, 3, 4, 11, tzinfo=UTC)  # Wednesday
    assert meeting.duration_minutes == 60
    assert meeting.bridge_link == "https://meet.example.com/checkout"
    assert {person.username for person in meeting.attendees.all()} == ATTENDEES
    event = IncidentEvent.objects.get(data__action="meeting_proposed")
    assert event.summary == "Review meeting proposed for 2026-03-04 11:00 UTC"


def test_a_meeting_that_would_run_past_closing_goes_to_the_next_morning(fight_major):
    meeting = proposed(fight_major, at(hours=6, minutes=30))  # Monday 16:30

    assert meeting.starts_at == datetime(2026, 3, 5, 9, tzinfo=UTC)


def test_it_starts_on_a_half_hour(fight_major):
    meeting = proposed(fight_major, at(hours=1, minutes=10))

    assert meeting.starts_at == datetime(2026, 3, 4, 11, 30, tzinfo=UTC)


def test_a_weekend_is_skipped(fight_major):
    meeting = proposed(fight_major, at(days=3, hours=5))  # Thursday 15:00: Saturday 15:00

    assert meeting.starts_at == datetime(2026, 3, 9, 9, tzinfo=UTC)  # Monday


def test_a_slot_where_the_owner_has_another_review_meeting_is_skipped(fight_major):
    first = proposed(fight_major, at(hours=1))
    second = proposed(fight_major, at(hours=1), title="Search is slow")

    assert first.starts_at == datetime(2026, 3, 4, 11, tzinfo=UTC)
    assert second.starts_at == datetime(2026, 3, 4, 12, tzinfo=UTC)


def test_the_business_calendar_and_its_holidays_are_used(fight_major):
    berlin = BusinessCalendar.objects.create(
        slug=BUSINESS_CALENDAR_SLUG, name="Business hours", time_zone="Europe/Berlin"
    )
    for day in range(5):
        WorkingHours.objects.create(calendar=berlin, weekday=day, start=time(9), end=time(17))
    Holiday.objects.create(calendar=berlin, date=datetime(2026, 3, 4).date(), name="Closed")

    meeting = proposed(fight_major, at(hours=1))

    assert meeting.starts_at == datetime(2026, 3, 5, 8, tzinfo=UTC)  # Thursday 09:00 in Berlin


def test_it_is_proposed_and_sent_once(fight_major, drive, manager):
    incident = fight_major(at(hours=1))
    tasks.ensure_review(incident.pk)
    tasks.ensure_review(incident.pk)
    drive(incident, manager, "reopen", "resolve")
    tasks.ensure_review(incident.pk)

    meeting = ReviewMeeting.objects.get(review__incident=incident)
    assert len(invitations(meeting)) == len(ATTENDEES)


def test_a_p1_that_is_not_major_has_no_meeting(resolve):
    incident = resolve("P1")

    tasks.ensure_review(incident.pk)

    assert not ReviewMeeting.objects.exists()


# --- the invitation ------------------------------------------------------------------------------


def test_each_attendee_is_emailed_the_invitation(meeting, settings):
    rows = invitations(meeting)
    number = meeting.review.incident.number

    assert {row.recipient.username for row in rows} == ATTENDEES
    (attachment,) = rows[0].context["attachments"]
    assert (attachment["filename"], attachment["mimetype"]) == (
        f"{number}-review.ics",
        "text/calendar",
    )
    event = ics_event(attachment["content"])
    assert str(event["UID"]) == f"{meeting.uid}@itsm-portal"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == datetime(2026, 3, 4, 11, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert str(event["SUMMARY"]) == f"Post-incident review: {number}"
    assert f"{settings.PORTAL_BASE_URL}/postmortems/{number}/" in str(event["DESCRIPTION"])
    assert str(event["ORGANIZER"]) == "mailto:mona@example.org"
    assert attendees_of(event) == MAILTO


def test_the_email_carries_the_ics_file(meeting):
    row = invitations(meeting)[0]

    assert notifications.notification_send(pk=row.pk, attempt=0) is True

    (message,) = mail.outbox
    (filename, content, mimetype) = message.attachments[0]
    assert filename.endswith("-review.ics")
    assert mimetype == "text/calendar"
    assert ics_event(content)["SEQUENCE"] == 0


def test_in_app_notifications_carry_no_file(meeting):
    in_app = Notification.objects.filter(
        channel=NotificationChannel.IN_APP, context__meeting=meeting.pk
    )

    assert in_app.count() == len(ATTENDEES)
    assert not any("attachments" in row.context for row in in_app)


# --- moving --------------------------------------------------------------------------------------


def test_the_owner_moves_it_and_everyone_gets_the_new_version(api, meeting, manager):
    incident = meeting.review.incident

    response = api.as_user(manager).patch(
        url(incident), {"starts_at": "2026-03-05T14:00:00Z", "duration_minutes": 90}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["starts_at"], body["ends_at"], body["sequence"]) == (
        "2026-03-05T14:00:00Z",
        "2026-03-05T15:30:00Z",
        1,
    )
    latest = invitations(meeting)[len(ATTENDEES) :]
    assert {row.recipient.username for row in latest} == ATTENDEES
    assert all("(moved)" in row.subject for row in latest)
    event = ics_event(latest[0].context["attachments"][0]["content"])
    assert (event["SEQUENCE"], str(event["UID"])) == (1, f"{meeting.uid}@itsm-portal")
    assert event.decoded("DTSTART") == datetime(2026, 3, 5, 14, tzinfo=UTC)
    moved = IncidentEvent.objects.get(data__action="meeting_moved")
    assert moved.summary == "Review meeting moved to 2026-03-05 14:00 UTC"
    assert meeting.history.latest().history_change_reason == "moved by mona (api)"


def test_another_manager_may_move_it(api, meeting, make_user):
    max_ = make_user("max", roles=[Role.ITSM_MANAGER])

    response = api.as_user(max_).patch(
        url(meeting.review.incident), {"location": "Room 4"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["location"], response.json()["sequence"]) == ("Room 4", 1)


def test_an_unchanged_meeting_is_not_sent_again(api, meeting, manager):
    response = api.as_user(manager).patch(
        url(meeting.review.incident), {"starts_at": "2026-03-04T11:00:00Z"}, format="json"
    )

    assert response.json()["sequence"] == 0
    assert len(invitations(meeting)) == len(ATTENDEES)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"starts_at": "2026-03-02T09:00:00Z"}, "starts_at"),  # the past
        ({"starts_at": "2026-12-01T09:00:00Z"}, "starts_at"),  # beyond the horizon
        ({"starts_at": "soon"}, "starts_at"),
        ({"duration_minutes": 5}, "duration_minutes"),
        ({"duration_minutes": 600}, "duration_minutes"),
        ({"location": "x" * 201}, "location"),
        ({"sequence": 7}, "sequence"),
    ],
)
def test_a_bad_move_is_refused_and_nothing_changes(api, meeting, manager, body, field):
    fields = api_error(
        api.as_user(manager).patch(url(meeting.review.incident), body, format="json"),
        400,
        "invalid",
    )

    assert set(fields) == {field}
    meeting.refresh_from_db()
    assert (meeting.sequence, meeting.starts_at) == (0, datetime(2026, 3, 4, 11, tzinfo=UTC))
    assert len(invitations(meeting)) == len(ATTENDEES)


def test_an_attendee_who_is_not_the_owner_may_not_move_it(api, meeting, crew):
    ivan = crew["incident_commander"][0]

    api_error(
        api.as_user(ivan).patch(
            url(meeting.review.incident), {"starts_at": "2026-03-05T14:00:00Z"}, format="json"
        ),
        403,
        "permission_denied",
    )
    meeting.refresh_from_db()
    assert meeting.sequence == 0


# --- reading and downloading ---------------------------------------------------------------------


def test_the_meeting_reads_as_json(api, meeting, responder):
    body = api.as_user(responder).get(url(meeting.review.incident)).json()

    assert body["starts_at"] == "2026-03-04T11:00:00Z"
    assert {person["username"] for person in body["attendees"]} == ATTENDEES
    assert body["ics_url"] == url(meeting.review.incident, "meeting.ics")


def test_the_ics_downloads_from_the_api(api, meeting, responder):
    response = api.as_user(responder).get(url(meeting.review.incident, "meeting.ics"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"].endswith('-review.ics"')
    event = ics_event(response.content.decode())
    assert attendees_of(event) == MAILTO
    assert event.decoded("DTSTART") == datetime(2026, 3, 4, 11, tzinfo=UTC)


def test_a_review_without_a_meeting_is_404(api, resolve, manager):
    incident = resolve("P1")
    tasks.ensure_review(incident.pk)
    client = api.as_user(manager)

    api_error(client.get(url(incident)), 404, "not_found")
    api_error(client.get(url(incident, "meeting.ics")), 404, "not_found")
    api_error(client.patch(url(incident), {"location": "x"}, format="json"), 404, "not_found")


ROLE_MATRIX = [
    # who, GET meeting, PATCH meeting, GET .ics
    ("manager", 200, 200, 200),
    ("responder", 200, 403, 200),
    ("stakeholder", 404, 404, 404),  # reads published reviews only
    ("nobody", 403, 403, 403),
]


@pytest.mark.parametrize(("who", "read", "move", "download"), ROLE_MATRIX)
def test_role_matrix(request, api, meeting, who, read, move, download):
    client = api.as_user(request.getfixturevalue(who))
    incident = meeting.review.incident

    assert client.get(url(incident)).status_code == read
    moved = client.patch(url(incident), {"location": "Room 4"}, format="json")
    assert moved.status_code == move
    assert client.get(url(incident, "meeting.ics")).status_code == download


@pytest.mark.parametrize(("who", "status"), [("responder", 200), ("nobody", 403)])
def test_the_portal_download(signed_in, request, meeting, who, status):
    number = meeting.review.incident.number

    response = signed_in(request.getfixturevalue(who)).get(f"/postmortems/{number}/meeting.ics")

    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        assert attendees_of(ics_event(response.content.decode())) == MAILTO


def test_the_review_page_shows_the_meeting_and_links_the_download(signed_in, manager, meeting):
    number = meeting.review.incident.number

    html = signed_in(manager).get(f"/postmortems/{number}/").content.decode()

    assert f"/postmortems/{number}/meeting.ics" in html
    assert "Wednesday 4 March 2026, 11:00" in html
    assert "Ivan" in html
