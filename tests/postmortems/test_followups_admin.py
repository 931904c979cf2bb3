"""The follow-up checklists are edited in the admin; follow-ups are ticked there through the
service; follow-ups and meetings are shown, never edited."""

import pytest
from django.urls import reverse

from postmortems import tasks
from postmortems.models import FollowUp, FollowUpTemplate, ReviewMeeting
from tests.incidents.test_admin import form_data
from tests.postmortems.reviews import at
from warroom.choices import WarRoomRole


@pytest.fixture
def major(fight_major):
    incident = fight_major(at(hours=1))
    tasks.ensure_review(incident.pk)
    return incident


def with_inlines(response) -> dict:
    """form_data, and the current values of every inline form."""
    data = form_data(response)
    for inline in response.context["inline_admin_formsets"]:
        for form in inline.formset:
            for field in form:
                value = field.value()
                if value is not None:
                    data[field.html_name] = value
    return data


def test_a_manager_edits_a_roles_checklist(signed_in, manager):
    template = FollowUpTemplate.objects.get(role=WarRoomRole.SME)
    url = reverse("admin:postmortems_followuptemplate_change", args=[template.pk])
    client = signed_in(manager)
    data = with_inlines(client.get(url))
    data["items-0-text"] = "Add your notes and graphs to the postmortem."

    response = client.post(url, data)

    assert response.status_code == 302
    assert list(template.items.values_list("text", flat=True)) == [
        "Add your notes and graphs to the postmortem."
    ]


def test_a_manager_ticks_follow_ups_with_the_admin_action(signed_in, manager, major):
    rows = FollowUp.objects.filter(review__incident=major, assignee__username="ivan")

    response = signed_in(manager).post(
        reverse("admin:postmortems_followup_changelist"),
        {"action": "mark_done", "_selected_action": [row.pk for row in rows]},
    )

    assert response.status_code == 302
    ticked = rows.all()
    assert {(row.done_by, row.history.latest().history_change_reason) for row in ticked} == {
        (manager, "ticked by mona (admin)")
    }


def test_follow_ups_and_meetings_are_shown_read_only(signed_in, manager, major):
    client = signed_in(manager)
    followup = FollowUp.objects.filter(review__incident=major).first()
    meeting = ReviewMeeting.objects.get(review__incident=major)

    followup_page = client.get(reverse("admin:postmortems_followup_change", args=[followup.pk]))
    meeting_page = client.get(reverse("admin:postmortems_reviewmeeting_change", args=[meeting.pk]))

    assert followup.text in followup_page.content.decode()
    assert 'name="text"' not in followup_page.content.decode()
    assert "mona" in meeting_page.content.decode()
    assert 'name="starts_at' not in meeting_page.content.decode()
    assert 'name="attendees"' not in meeting_page.content.decode()
