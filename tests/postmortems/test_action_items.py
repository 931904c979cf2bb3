"""Action items through their services: creating, the status rules, the audit, the roles."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from incidents.choices import EventType
from itsm.errors import PermissionDeniedError, ValidationFailed
from postmortems.action_items import action_item_create, action_item_update
from postmortems.choices import ActionItemStatus
from postmortems.models import ActionItem

CLI = "cli"
MORNING = datetime(2026, 3, 5, 9, tzinfo=UTC)


def _action_events(incident):
    return list(incident.events.filter(type=EventType.ACTION_ITEM).order_by("at", "id"))


@pytest.mark.django_db
def test_create_records_the_item_its_event_and_its_history(make_item, manager, incident):
    item = make_item(title="  Alert on checkout error rate ", priority="P0", type="detect")

    item.refresh_from_db()
    assert (item.title, item.priority, item.type) == (
        "Alert on checkout error rate",
        "P0",
        "detect",
    )
    assert item.status == ActionItemStatus.OPEN and item.created_by == manager
    [event] = _action_events(incident)
    assert event.actor == manager
    assert "Action item added for rita (due 2026-03-10)" in event.summary
    assert event.data["action_item"] == item.pk
    [history] = item.history.all()
    assert history.history_change_reason == "Created by mona (cli)"


@pytest.mark.django_db
def test_done_sets_completed_at_and_reopening_clears_it(make_item, responder):
    item = make_item()
    with time_machine.travel(MORNING, tick=False):
        action_item_update(item=item, actor=responder, source=CLI, status="done")
    item.refresh_from_db()
    assert item.status == ActionItemStatus.DONE and item.completed_at == MORNING

    action_item_update(item=item, actor=responder, source=CLI, status="in_progress")
    item.refresh_from_db()
    assert item.status == ActionItemStatus.IN_PROGRESS and item.completed_at is None
    history = item.history.order_by("history_id")
    assert [(row.status, row.history_change_reason) for row in history] == [
        ("open", "Created by mona (cli)"),
        ("done", "Changed status by rita (cli)"),
        ("in_progress", "Changed status by rita (cli)"),
    ]


@pytest.mark.django_db
def test_wont_do_needs_a_reason_and_nothing_changes_without_one(make_item, responder, incident):
    item = make_item()

    with pytest.raises(ValidationFailed) as refused:
        action_item_update(item=item, actor=responder, source=CLI, status="wont_do")
    assert set(refused.value.fields) == {"wont_do_reason"}
    item.refresh_from_db()
    assert item.status == ActionItemStatus.OPEN
    assert item.history.count() == 1 and len(_action_events(incident)) == 1

    action_item_update(
        item=item, actor=responder, source=CLI, status="wont_do", wont_do_reason="Service retired"
    )
    item.refresh_from_db()
    assert (item.status, item.wont_do_reason) == ("wont_do", "Service retired")
    assert _action_events(incident)[-1].summary == (
        "Action item won't do (Service retired): Alert on checkout error rate"
    )


@pytest.mark.django_db
def test_leaving_wont_do_clears_the_reason(make_item, responder):
    item = make_item()
    action_item_update(item=item, actor=responder, source=CLI, status="wont_do", wont_do_reason="x")
    action_item_update(item=item, actor=responder, source=CLI, status="open")
    item.refresh_from_db()
    assert (item.status, item.wont_do_reason) == ("open", "")


@pytest.mark.django_db
def test_only_a_wont_do_item_has_a_reason(make_item, responder):
    item = make_item()
    with pytest.raises(ValidationFailed) as refused:
        action_item_update(item=item, actor=responder, source=CLI, wont_do_reason="Because")
    assert set(refused.value.fields) == {"wont_do_reason"}
    item.refresh_from_db()
    assert item.wont_do_reason == "" and item.history.count() == 1


@pytest.mark.django_db
def test_an_update_that_changes_nothing_writes_nothing(make_item, responder, incident):
    item = make_item()
    action_item_update(item=item, actor=responder, source=CLI, title=item.title, priority="P1")
    assert item.history.count() == 1 and len(_action_events(incident)) == 1


@pytest.mark.django_db
def test_bad_fields_are_all_named_and_nothing_is_written(manager, incident, stakeholder):
    with pytest.raises(ValidationFailed) as refused:
        action_item_create(
            incident=incident,
            actor=manager,
            source=CLI,
            title=" ",
            owner=stakeholder,
            due_date="tomorrow",
            priority="P3",
            type="blame",
            tracker_url="javascript:alert(1)",
        )
    assert set(refused.value.fields) == {
        "title",
        "owner",
        "due_date",
        "priority",
        "type",
        "tracker_url",
    }
    assert not ActionItem.objects.exists() and not _action_events(incident)


@pytest.mark.django_db
def test_stakeholders_may_not_write(make_item, stakeholder, incident, responder):
    with pytest.raises(PermissionDeniedError):
        make_item(actor=stakeholder)
    item = make_item()
    with pytest.raises(PermissionDeniedError):
        action_item_update(item=item, actor=stakeholder, source=CLI, status="done")
    item.refresh_from_db()
    assert item.status == ActionItemStatus.OPEN


@pytest.mark.django_db
def test_an_inactive_owner_is_refused(make_item, make_user):
    gone = make_user("gone", roles=["responder"], is_active=False)
    with pytest.raises(ValidationFailed) as refused:
        make_item(owner=gone)
    assert refused.value.fields == {"owner": ["gone cannot own action items (not active staff)."]}


@pytest.mark.django_db
def test_overdue_is_pending_and_past_its_due_date(make_item, responder):
    item = make_item(due_date=date(2026, 3, 10))
    assert not item.is_overdue(date(2026, 3, 10))
    assert item.is_overdue(date(2026, 3, 11))
    item = action_item_update(item=item, actor=responder, source=CLI, status="done")
    assert not item.is_overdue(date(2026, 3, 11))
