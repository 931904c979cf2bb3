"""Every write to action items: create and update, and the nags about overdue ones.

Each write is atomic, locks the item (an update) or the incident (a create), records one event
on the incident's timeline and one history row whose change reason names the write, the user
and where it came from. Responders and managers write; stakeholders only read (the
permissions of postmortems/migrations); jobs act as the system (actor None).
"""

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.choices import EventType
from incidents.models import Incident
from incidents.services import actor_label, change_reason
from incidents.timeline import incident_record_event
from itsm.errors import ConflictError, PermissionDeniedError
from itsm.notifications import notify
from itsm.validation import choice, clean_text, raise_if
from postmortems.choices import (
    PENDING_ACTION_STATUSES,
    ActionItemPriority,
    ActionItemStatus,
    ActionItemType,
    NagKind,
)
from postmortems.models import ActionItem, ActionItemNag, PostIncidentReview
from postmortems.models.action_items import (
    ACTION_DESCRIPTION_MAX_LENGTH,
    ACTION_TITLE_MAX_LENGTH,
    ADD_ACTION_ITEM,
    CHANGE_ACTION_ITEM,
    TRACKER_KEY_MAX_LENGTH,
    TRACKER_URL_MAX_LENGTH,
    WONT_DO_NEEDS_REASON,
    WONT_DO_REASON_MAX_LENGTH,
)
from postmortems.proposals import ACCEPTED, proposals_titled

UNSET = object()
EDITABLE_FIELDS = (
    "title",
    "description",
    "priority",
    "type",
    "owner",
    "due_date",
    "status",
    "wont_do_reason",
    "tracker_url",
    "tracker_key",
)


# --- helpers -------------------------------------------------------------------------------------


def _check_perm(actor, perm: str, what: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDeniedError(f"You may not {what}.")


def may_own_action_items(user) -> bool:
    """An owner must be able to work on the item: active, and allowed to change items."""
    return user.is_active and user.has_perm(CHANGE_ACTION_ITEM)


# Text fields: (required, most characters); fields of choices; the other fields' checks below.
TEXT_FIELDS = {
    "title": (True, ACTION_TITLE_MAX_LENGTH),
    "description": (False, ACTION_DESCRIPTION_MAX_LENGTH),
    "wont_do_reason": (False, WONT_DO_REASON_MAX_LENGTH),
    "tracker_key": (False, TRACKER_KEY_MAX_LENGTH),
}
CHOICE_FIELDS = {
    "priority": ActionItemPriority,
    "type": ActionItemType,
    "status": ActionItemStatus,
}


def _clean_fields(errors: dict, fields: dict) -> dict:
    """Each given field checked and normalised; a bad one is named in `errors`."""
    return {name: _clean_field(errors, name, value) for name, value in fields.items()}


def _clean_field(errors: dict, name: str, value):
    if name in TEXT_FIELDS:
        required, most = TEXT_FIELDS[name]
        return clean_text(errors, name, value, required=required, max_length=most)
    if name in CHOICE_FIELDS:
        return choice(errors, name, value, CHOICE_FIELDS[name])
    return OTHER_CHECKS[name](errors, value)


def _clean_tracker_url(errors: dict, value) -> str:
    link = clean_text(
        errors, "tracker_url", value, required=False, max_length=TRACKER_URL_MAX_LENGTH
    )
    parts = urlsplit(link)
    if link and (parts.scheme not in ("http", "https") or not parts.netloc):
        errors["tracker_url"] = "Enter an http:// or https:// link."
    return link


def _clean_owner(errors: dict, owner):
    if owner is None:
        errors["owner"] = "This field is required."
    elif not may_own_action_items(owner):
        errors["owner"] = f"{owner.get_username()} cannot own action items (not active staff)."
    return owner


def _clean_due_date(errors: dict, value):
    if not isinstance(value, date) or isinstance(value, datetime):
        errors["due_date"] = "Must be a date (YYYY-MM-DD)."
    return value


OTHER_CHECKS = {
    "tracker_url": _clean_tracker_url,
    "owner": _clean_owner,
    "due_date": _clean_due_date,
}


def _check_wont_do_reason(errors: dict, item: ActionItem) -> None:
    """A won't-do item has its reason; no other item has one."""
    wont_do = item.status == ActionItemStatus.WONT_DO
    if wont_do and not item.wont_do_reason:
        errors["wont_do_reason"] = WONT_DO_NEEDS_REASON
    elif not wont_do and item.wont_do_reason:
        errors["wont_do_reason"] = "Only an item that will not be done has this reason."


def _record(item: ActionItem, *, actor, source: str, summary: str, **data) -> None:
    incident_record_event(
        incident=item.incident,
        type=EventType.ACTION_ITEM,
        actor=actor,
        source=source,
        summary=summary,
        data={"action_item": item.pk, **data},
    )


def _save(item: ActionItem, *, actor, source: str, reason: str) -> None:
    item._change_reason = change_reason(reason, actor, source)
    item._history_user = actor
    item.save()


# --- create and update ---------------------------------------------------------------------------


@transaction.atomic
def action_item_create(
    *,
    incident: Incident,
    actor,
    source: str,
    title: str,
    owner,
    due_date: date,
    description: str = "",
    priority: str = ActionItemPriority.P1,
    type: str = ActionItemType.PREVENT,
    tracker_url: str = "",
    tracker_key: str = "",
) -> ActionItem:
    """A new open action item on `incident`, owned by `owner`. When its title is the text of
    one of the review's proposed action items, that proposal is accepted with it (409 when it
    was accepted already)."""
    _check_perm(actor, ADD_ACTION_ITEM, "add action items")
    errors: dict = {}
    fields = _clean_fields(
        errors,
        {
            "title": title,
            "description": description,
            "priority": priority,
            "type": type,
            "owner": owner,
            "due_date": due_date,
            "tracker_url": tracker_url,
            "tracker_key": tracker_key,
        },
    )
    raise_if(errors)
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    review, proposal = _open_proposal(incident, fields["title"])
    item = ActionItem(incident=incident, created_by=actor, **fields)
    _save(item, actor=actor, source=source, reason="Created")
    accepted = " (a proposal of the review)" if review else ""
    _record(
        item,
        actor=actor,
        source=source,
        summary=(
            f"Action item added for {actor_label(item.owner)} (due {item.due_date})"
            f"{accepted}: {item.title}"
        ),
        change="created",
        **({"proposal": proposal} if review else {}),
    )
    if review is not None:
        proposal_accept(review=review, index=proposal, item=item, actor=actor, source=source)
    return item


def _open_proposal(incident: Incident, title: str) -> tuple[PostIncidentReview | None, int]:
    """The incident's review, locked (after the incident, as the review's services lock), and
    the first of its proposals with this text not yet accepted; (None, -1) when none has the
    text. 409 when each that has it was accepted already."""
    review = (
        PostIncidentReview.objects.select_for_update(of=("self",)).filter(incident=incident).first()
    )
    rows = review.proposed_action_items if review else []
    titled = proposals_titled(rows, title)
    if not titled:
        return None, -1
    waiting = [index for index in titled if not rows[index].get(ACCEPTED)]
    if not waiting:
        raise ConflictError(
            f"This proposal was accepted already: it is action item {rows[titled[0]][ACCEPTED]}."
        )
    return review, waiting[0]


def proposal_accept(
    *, review: PostIncidentReview, index: int, item: ActionItem, actor, source: str
) -> None:
    """Mark proposal `index` of `review` (locked) accepted as `item`, so the review shows it
    accepted and it cannot be accepted again."""
    review.proposed_action_items[index][ACCEPTED] = item.pk
    review._change_reason = change_reason(
        f"Accepted proposed action item {index + 1}", actor, source
    )
    review._history_user = actor
    review.save(update_fields=["proposed_action_items", "updated_at"])


@transaction.atomic
def action_item_update(*, item: ActionItem, actor, source: str, **changes) -> ActionItem:
    """Change some of an item's fields (`EDITABLE_FIELDS`). Done sets `completed_at`; won't do
    needs `wont_do_reason`; leaving either clears what it set."""
    _check_perm(actor, CHANGE_ACTION_ITEM, "change action items")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    errors: dict = {}
    fields = _clean_fields(errors, changes)
    raise_if(errors)
    item = (
        ActionItem.objects.select_for_update(of=("self",))
        .select_related("incident", "owner")
        .get(pk=item.pk)
    )
    changed = _apply(item, fields)
    _check_wont_do_reason(errors, item)
    raise_if(errors)
    if not changed:
        return item
    _save(item, actor=actor, source=source, reason=f"Changed {', '.join(changed)}")
    _record(
        item,
        actor=actor,
        source=source,
        summary=_update_summary(item, changed),
        change="updated",
        fields=changed,
    )
    return item


def _apply(item: ActionItem, fields: dict) -> list[str]:
    """Set the fields that differ; return their names. A status change sets or clears
    `completed_at` and clears the reason of an item no longer won't do."""
    changed = [name for name, value in fields.items() if getattr(item, name) != value]
    for name in changed:
        setattr(item, name, fields[name])
    if "status" in changed:
        item.completed_at = timezone.now() if item.status == ActionItemStatus.DONE else None
        if item.status != ActionItemStatus.WONT_DO and "wont_do_reason" not in changed:
            item.wont_do_reason = ""
    return changed


def _update_summary(item: ActionItem, changed: list[str]) -> str:
    if "status" in changed:
        what = f"Action item {item.get_status_display().lower()}"
        if item.status == ActionItemStatus.WONT_DO:
            what += f" ({item.wont_do_reason})"
    else:
        what = f"Action item changed ({', '.join(changed)})"
    return f"{what}: {item.title}"


# --- nags ----------------------------------------------------------------------------------------


def review_owner_of_item():
    """The expression naming the person who owns the review of an item's incident (none when
    the incident has no review, or it has no owner)."""
    return F("incident__review__owner")


def week_of(day: date) -> date:
    """The Monday of `day`'s week: the `day` of a weekly nag."""
    return day - timedelta(days=day.weekday())


def overdue_items(today: date):
    """Items still to be done whose due date has passed (the partial index's range scan)."""
    return ActionItem.objects.filter(status__in=PENDING_ACTION_STATUSES, due_date__lt=today)


def _items_nagging(kind: str, today: date):
    """The overdue items, each with the id of the person a nag of `kind` goes to."""
    recipient = F("owner_id") if kind == NagKind.OWNER else review_owner_of_item()
    return overdue_items(today).annotate(recipient_id=recipient).filter(recipient_id__isnull=False)


def action_items_nag(*, kind: str, today: date) -> int:
    """Send each person one message listing their overdue items: owners once a day, review
    owners once a week. Returns how many people this call nagged."""
    day = today if kind == NagKind.OWNER else week_of(today)
    recipients = _items_nagging(kind, today).values_list("recipient_id", flat=True).distinct()
    return sum(
        _nag_one(recipient_id=user_id, kind=kind, day=day, today=today)
        for user_id in sorted(recipients)
    )


@transaction.atomic
def _nag_one(*, recipient_id: int, kind: str, day: date, today: date) -> bool:
    """Nag one person, unless they were nagged (of this kind) for `day` already. Their items
    are locked first, so a second worker nagging the same person waits here, then sees the nag
    rows the first committed; the unique nag rows and the notification rows are written in one
    transaction, so either both exist or neither does."""
    recipient = get_user_model().objects.filter(pk=recipient_id, is_active=True).first()
    items = list(
        _items_nagging(kind, today)
        .filter(recipient_id=recipient_id)
        .select_for_update(of=("self",))
        .select_related("incident", "owner")
        .order_by("pk")
    )
    if recipient is None or not items or _nagged(recipient, kind=kind, day=day):
        return False
    ActionItemNag.objects.bulk_create(
        ActionItemNag(item=item, recipient=recipient, kind=kind, day=day) for item in items
    )
    notify(recipients=[recipient], **_nag_message(items, kind=kind, day=day, today=today))
    return True


def _nagged(recipient, *, kind: str, day: date) -> bool:
    return ActionItemNag.objects.filter(recipient=recipient, kind=kind, day=day).exists()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _nag_message(items: list[ActionItem], *, kind: str, day: date, today: date) -> dict:
    count = _plural(len(items), "overdue action item")
    intro = (
        "You own these action items; they are past their due date:"
        if kind == NagKind.OWNER
        else "Action items of incidents whose review you own are past their due date:"
    )
    lines = [_nag_line(item, today) for item in items]
    return {
        "subject": f"{count}" + (" of your reviews" if kind == NagKind.REVIEW_OWNER else ""),
        "body": "\n".join([intro, *lines, "", "Mark each done, or won't do with a reason."]),
        "link": items[0].incident.get_absolute_url() if len(items) == 1 else "",
        "context": {"action_items": [item.pk for item in items], "nag": kind},
        "dedupe_key": f"postmortems:action-items:{kind}:{day.isoformat()}",
    }


def _nag_line(item: ActionItem, today: date) -> str:
    late = _plural((today - item.due_date).days, "day")
    return (
        f"- {item.incident.number} [{item.priority}] {item.title} "
        f"(owner {actor_label(item.owner)}, due {item.due_date}, {late} late)"
    )
