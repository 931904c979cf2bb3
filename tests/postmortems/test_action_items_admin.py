"""The admin of action items: writes go through the services; history; the overdue filter."""

from datetime import date

import pytest
import time_machine

from postmortems.models import ActionItem

CHANGELIST = "/admin/postmortems/actionitem/"


def _form(item, **fields) -> dict:
    return {
        "title": item.title,
        "description": item.description,
        "priority": item.priority,
        "type": item.type,
        "owner": item.owner_id,
        "due_date": item.due_date.isoformat(),
        "status": item.status,
        "wont_do_reason": item.wont_do_reason,
        "tracker_url": item.tracker_url,
        "tracker_key": item.tracker_key,
        **fields,
    }


@pytest.mark.django_db
def test_a_manager_adds_an_item_through_the_service(signed_in, manager, incident, responder):
    response = signed_in(manager).post(
        f"{CHANGELIST}add/",
        {
            "incident": incident.pk,
            "title": "Add a canary stage",
            "description": "",
            "priority": "P0",
            "type": "prevent",
            "owner": responder.pk,
            "due_date": "2026-04-01",
            "tracker_url": "",
            "tracker_key": "",
        },
    )
    assert response.status_code == 302, response.content
    item = ActionItem.objects.get()
    assert (item.title, item.owner, item.created_by) == ("Add a canary stage", responder, manager)
    assert item.history.get().history_change_reason == "Created by mona (admin)"


@pytest.mark.django_db
def test_marking_done_sets_completed_at(signed_in, manager, make_item):
    item = make_item()
    response = signed_in(manager).post(f"{CHANGELIST}{item.pk}/change/", _form(item, status="done"))
    assert response.status_code == 302, response.content
    item.refresh_from_db()
    assert item.status == "done" and item.completed_at is not None
    assert item.history.latest().history_change_reason == "Changed status by mona (admin)"


@pytest.mark.django_db
def test_wont_do_without_a_reason_is_refused_on_the_form(signed_in, manager, make_item):
    item = make_item()
    response = signed_in(manager).post(
        f"{CHANGELIST}{item.pk}/change/", _form(item, status="wont_do")
    )
    assert response.status_code == 200
    assert "Say why the item will not be done." in response.content.decode()
    item.refresh_from_db()
    assert item.status == "open" and item.history.count() == 1


@pytest.mark.django_db
def test_the_overdue_filter(signed_in, manager, make_item):
    make_item(title="Late one", due_date=date(2026, 3, 1))
    make_item(title="Later one", due_date=date(2026, 4, 1))
    with time_machine.travel(date(2026, 3, 12), tick=False):
        page = signed_in(manager).get(f"{CHANGELIST}?overdue=yes").content.decode()
    assert "Late one" in page and "Later one" not in page


@pytest.mark.django_db
def test_history_page_and_no_delete(signed_in, manager, make_item):
    item = make_item()
    client = signed_in(manager)
    assert client.get(f"{CHANGELIST}{item.pk}/history/").status_code == 200
    assert client.get(f"{CHANGELIST}{item.pk}/delete/").status_code == 403
