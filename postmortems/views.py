"""The post-incident review pages: the list, the document with its forms, its Markdown export
and its printable page. Reads go through selectors.py, every write through services.py or
action_items.py; as on the incident pages, an ApplicationError re-renders the document with its
message, its field errors and its HTTP status (400, 403 or 409), and nothing is changed. A
reader who may not edit reviews (a stakeholder) sees published ones only; any other is a 404,
as in the API."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, TextChoices
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.choices import ChangeSource
from incidents.forms import assignable_users
from incidents.models import Incident
from incidents.views import INVALID_FORM, detail_page, portal_view
from itsm.errors import ApplicationError
from itsm.http import post_only
from postmortems import services
from postmortems.action_items import action_item_create, action_item_update
from postmortems.choices import (
    PENDING_ACTION_STATUSES,
    ActionItemStatus,
    ReviewStatus,
    ReviewTransition,
)
from postmortems.export import ACTION_ITEMS, TIMELINE, document_headings, review_markdown
from postmortems.forms import (
    ActionItemForm,
    ActionItemStatusForm,
    OwnerForm,
    PublicSummaryForm,
    RevenueImpactForm,
    SectionForm,
    TimelineFormSet,
    TransitionForm,
    offer_people,
)
from postmortems.models import SECTIONS, ActionItem, PostIncidentReview
from postmortems.models.action_items import (
    ADD_ACTION_ITEM,
    CHANGE_ACTION_ITEM,
)
from postmortems.models.review import CHANGE_PERMISSION
from postmortems.proposals import ACCEPTED
from postmortems.selectors import (
    OPEN_REVIEW_STATUSES,
    followup_list,
    overdue_review_condition,
    readable_reviews,
    review_meeting,
)

VIEW = "postmortems.view_postincidentreview"
ADD = "postmortems.add_postincidentreview"
PORTAL = ChangeSource.PORTAL
# An accepted proposal is a P1 item ("this sprint"), due two weeks on.
ACCEPTED_ITEM_DUE_IN = timedelta(days=14)
# The transitions' path segments (as the API's): the model's transition, its service, and
# whether it needs a reason.
TRANSITIONS = {
    "submit": (ReviewTransition.SUBMIT, services.review_submit, False),
    "publish": (ReviewTransition.PUBLISH, services.review_publish, False),
    "return": (ReviewTransition.RETURN_TO_DRAFT, services.review_return, True),
    "skip": (ReviewTransition.SKIP, services.review_skip, True),
}


class Tab(TextChoices):
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"
    MINE = "mine", "Mine"
    PUBLISHED = "published", "Published"


def _review_or_404(request, number: str) -> PostIncidentReview:
    return get_object_or_404(readable_reviews(request.user), incident__number=number)


def _to_document(number: str):
    return redirect("postmortems:detail", number)


# --- the list ------------------------------------------------------------------------------------


def _tabs(user) -> list[str]:
    """The lists `user` may pick: stakeholders read published reviews only."""
    return Tab.values if user.has_perm(CHANGE_PERMISSION) else [Tab.PUBLISHED]


def _tab_reviews(reviews, tab: str, user):
    if tab == Tab.DUE:
        return reviews.filter(status__in=OPEN_REVIEW_STATUSES).order_by("due_at", "pk")
    if tab == Tab.OVERDUE:
        return reviews.filter(overdue_review_condition(timezone.now())).order_by("due_at", "pk")
    if tab == Tab.MINE:
        return reviews.filter(owner=user).order_by("due_at", "pk")
    return reviews.filter(status=ReviewStatus.PUBLISHED).order_by("-published_at", "-pk")


def _with_item_counts(reviews):
    pending = Q(incident__action_items__status__in=PENDING_ACTION_STATUSES)
    return reviews.annotate(
        item_count=Count("incident__action_items"),
        pending_count=Count("incident__action_items", filter=pending),
    )


@require_GET
@portal_view(VIEW)
def review_list(request):
    tabs = _tabs(request.user)
    tab = request.GET.get("show") or tabs[0]
    valid = tab in tabs
    reviews = readable_reviews(request.user)
    reviews = _with_item_counts(
        _tab_reviews(reviews, tab, request.user) if valid else reviews.none()
    )
    page = Paginator(reviews, settings.PORTAL_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "tab": tab,
        "tabs": [(value, Tab(value).label) for value in tabs],
        "valid": valid,
        "now": timezone.now(),
        "open_statuses": OPEN_REVIEW_STATUSES,
    }
    return render(request, "postmortems/list.html", context, status=200 if valid else 400)


# --- the document --------------------------------------------------------------------------------


@require_GET
@portal_view(VIEW)
def review_detail(request, number):
    return _document_page(request, _review_or_404(request, number))


def allowed_transitions(review: PostIncidentReview, user) -> list[str]:
    """The transitions (path segments) the page offers `user` now: from this state, with the
    permission, and skip only for an optional review. The reasons are asked for on the form,
    so the guards that read them are not checked here (django_fsm's `has_transition_perm`
    would check them, hence its transition metadata read directly)."""
    allowed = []
    for segment, (name, _service, _reason) in TRANSITIONS.items():
        meta = getattr(review, name)._django_fsm
        if not meta.has_transition(review.status):
            continue
        if not meta.has_transition_perm(review, review.status, user):
            continue
        if name == ReviewTransition.SKIP and review.required:
            continue
        allowed.append(segment)
    return allowed


def _transition_forms(review, user, bound: dict) -> list[dict]:
    return [
        {
            "name": segment,
            "label": TRANSITIONS[segment][0].label,
            "form": bound.get(f"transition_{segment}")
            or TransitionForm(TRANSITIONS[segment][2], auto_id=f"id_{segment}_%s"),
        }
        for segment in allowed_transitions(review, user)
    ]


def _parts(review, bound: dict, can_edit: bool) -> list[dict]:
    """The document's parts in order, each section with its text and (for an editor) form."""
    parts = []
    for name, heading in document_headings():
        part = {"name": name, "heading": heading, "section": name in SECTIONS}
        if part["section"]:
            part["text"] = getattr(review, name)
            if can_edit:
                part["form"] = bound.get(f"section_{name}") or SectionForm(
                    initial={
                        "text": part["text"],
                        "base_version": review.section_versions.get(name, 0),
                    },
                    auto_id=f"id_{name}_%s",
                )
        parts.append(part)
    return parts


def _proposals(review) -> list[dict]:
    """The proposed items, each with its index (the accept route's) and whether it is accepted."""
    return [
        {"index": index, **proposal, "accepted": bool(proposal.get(ACCEPTED))}
        for index, proposal in enumerate(review.proposed_action_items)
    ]


def _item_rows(items: list[ActionItem], bound: dict, today) -> list[dict]:
    return [
        {
            "item": item,
            "overdue": item.is_overdue(today),
            "form": bound.get(f"item_{item.pk}")
            or ActionItemStatusForm(
                initial={"status": item.status, "wont_do_reason": item.wont_do_reason},
                auto_id=f"id_item{item.pk}_%s",
            ),
        }
        for item in items
    ]


def _document_page(request, review: PostIncidentReview, *, status: int = 200, **bound):
    """The document; `bound` forms (by slot) replace the blank ones, so a rejected submission
    comes back with the user's input and its errors."""
    user = request.user
    may_change = user.has_perm(CHANGE_PERMISSION)
    can_edit = may_change and review.status in services.EDITABLE_STATUSES
    can_add_items = user.has_perm(ADD_ACTION_ITEM)
    items = list(review.incident.action_items.select_related("owner"))
    owner_form = bound.get("owner") or OwnerForm(
        initial={"owner": review.owner.username if review.owner else ""}, auto_id="id_owner_%s"
    )
    item_form = bound.get("item") or ActionItemForm(auto_id="id_item_%s")
    if can_edit or can_add_items:
        people = list(assignable_users().only("username", "first_name", "last_name"))
        offer_people(owner_form, "owner", people)
        offer_people(item_form, "owner", people)
    context = {
        "review": review,
        "incident": review.incident,
        "facts": review.facts or {},
        "parts": _parts(review, bound, can_edit),
        "timeline_name": TIMELINE,
        "action_items_name": ACTION_ITEMS,
        "can_edit": can_edit,
        "may_change": may_change,
        "can_add_items": can_add_items,
        "can_change_items": user.has_perm(CHANGE_ACTION_ITEM),
        "now": timezone.now(),
        "open_statuses": OPEN_REVIEW_STATUSES,
        "timeline_formset": bound.get("timeline")
        or TimelineFormSet(initial=review.timeline, prefix="timeline"),
        "proposals": _proposals(review),
        "items": _item_rows(items, bound, timezone.localdate()),
        "item_form": item_form,
        "owner_form": owner_form,
        "revenue_form": bound.get("revenue_impact")
        or RevenueImpactForm(
            initial={"revenue_impact": review.revenue_impact}, auto_id="id_revenue_%s"
        ),
        "summary_form": bound.get("public_summary")
        or PublicSummaryForm(
            initial={"public_summary": review.public_summary}, auto_id="id_public_%s"
        ),
        "transitions": _transition_forms(review, user, bound),
        "meeting": review_meeting(review),
        "followups": followup_list(review),
        "live_config": _live_config(review.incident.number, can_write=can_edit),
    }
    return render(request, "postmortems/detail.html", context, status=status)


def _live_config(number: str, *, can_write: bool) -> dict:
    """What static/js/review.js needs: the page's socket (docs/live-pages.md, "The review
    page") and where a section is saved as it is typed (the API's section route)."""
    return {
        "ws_path": f"/ws/postmortems/{number}/",
        "sections_url": f"/api/incidents/{number}/postmortem/sections/",
        "can_write": can_write,
    }


@require_GET
@portal_view(VIEW)
def review_export(request, number):
    """The whole document as one Markdown file, downloaded."""
    review = _review_or_404(request, number)
    response = HttpResponse(review_markdown(review), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{review.incident.number}-review.md"'
    return response


@require_GET
@portal_view(VIEW)
def review_print(request, number):
    """The rendered document alone, for paper or a PDF: no navigation, no forms."""
    review = _review_or_404(request, number)
    items = list(review.incident.action_items.select_related("owner"))
    context = {
        "review": review,
        "incident": review.incident,
        "facts": review.facts or {},
        "parts": _parts(review, {}, can_edit=False),
        "items": _item_rows(items, {}, timezone.localdate()),
        "timeline_name": TIMELINE,
        "action_items_name": ACTION_ITEMS,
    }
    return render(request, "postmortems/print.html", context)


# --- writes --------------------------------------------------------------------------------------


def _submit(request, review, form, slot: str, write):
    """Validate `form`, then run `write(form)`: a service call that returns what to tell the
    user. On success, back to the document with that message; on bad input or a refused write,
    the document again with the form's errors and the failure's HTTP status, nothing changed."""
    if not form.is_valid():
        messages.error(request, INVALID_FORM)
        return _document_page(request, review, status=400, **{slot: form})
    try:
        done = write(form)
    except ApplicationError as error:
        form.add_application_error(error)
        messages.error(request, error.message)
        return _document_page(request, review, status=error.status, **{slot: form})
    messages.success(request, done)
    return _to_document(review.incident.number)


@post_only("postmortems:detail", "number")
@portal_view(CHANGE_PERMISSION)
def review_section(request, number, name):
    if name not in SECTIONS:
        raise Http404(f"No section {name!r}.")
    review = _review_or_404(request, number)
    form = SectionForm(request.POST, auto_id=f"id_{name}_%s")

    def write(form):
        saved = services.review_section_save(
            review=review,
            actor=request.user,
            section=name,
            base_version=form.cleaned_data["base_version"],
            text=form.cleaned_data["text"],
        )
        merged = ", merged with what others saved meanwhile" if saved["merged"] else ""
        return f"{SECTIONS[name]} saved{merged}."

    return _submit(request, review, form, f"section_{name}", write)


@post_only("postmortems:detail", "number")
@portal_view(CHANGE_PERMISSION)
def review_timeline(request, number):
    review = _review_or_404(request, number)
    formset = TimelineFormSet(request.POST, prefix="timeline")

    def write(formset):
        services.review_update(
            review=review, actor=request.user, source=PORTAL, timeline=formset.rows()
        )
        return "Timeline saved."

    return _submit(request, review, formset, "timeline", write)


@post_only("postmortems:detail", "number")
@portal_view(CHANGE_PERMISSION)
def review_owner(request, number):
    review = _review_or_404(request, number)
    form = OwnerForm(request.POST, auto_id="id_owner_%s")

    def write(form):
        owner = form.cleaned_data["owner"]
        services.review_update(review=review, actor=request.user, source=PORTAL, owner=owner)
        return (
            f"The review's owner is now {owner.get_full_name() or owner}."
            if owner
            else ("The review has no owner now.")
        )

    return _submit(request, review, form, "owner", write)


@post_only("postmortems:detail", "number")
@portal_view(CHANGE_PERMISSION)
def review_public_summary(request, number):
    return _save_fields(request, number, PublicSummaryForm, "public", "Public summary saved.")


@post_only("postmortems:detail", "number")
@portal_view(CHANGE_PERMISSION)
def review_revenue_impact(request, number):
    return _save_fields(request, number, RevenueImpactForm, "revenue", "Revenue impact saved.")


def _save_fields(request, number, form_class, prefix: str, saved: str):
    """A form whose fields are review_update's arguments of the same names; `prefix` names its
    ids (id_<prefix>_…); its one field names its slot on the page."""
    review = _review_or_404(request, number)
    form = form_class(request.POST, auto_id=f"id_{prefix}_%s")
    slot = next(iter(form.fields))

    def write(form):
        services.review_update(
            review=review, actor=request.user, source=PORTAL, **form.cleaned_data
        )
        return saved

    return _submit(request, review, form, slot, write)


@post_only("postmortems:detail", "number")
@portal_view(CHANGE_PERMISSION)
def review_transition(request, number, name):
    """Submit, publish (managers: the service checks), return or skip (with a reason)."""
    if name not in TRANSITIONS:
        raise Http404(f"No transition {name!r}.")
    review = _review_or_404(request, number)
    _transition, service, needs_reason = TRANSITIONS[name]
    form = TransitionForm(needs_reason, request.POST, auto_id=f"id_{name}_%s")

    def write(form):
        updated = service(review=review, actor=request.user, source=PORTAL, **form.cleaned_data)
        return f"The review of {number} is now {updated.get_status_display().lower()}."

    return _submit(request, review, form, f"transition_{name}", write)


@post_only("incidents:detail", "number")
@portal_view(ADD)
def review_start(request, number):
    """Start the review of a resolved incident (from its page): the draft, or the incident page
    again with why not (409: it has one, or is not resolved)."""
    incident = get_object_or_404(Incident, number=number)
    try:
        services.review_create(incident=incident, actor=request.user, source=PORTAL)
    except ApplicationError as error:
        messages.error(request, error.message)
        return detail_page(request, incident, status=error.status)
    messages.success(request, f"Post-incident review of {number} started.")
    return _to_document(number)


# --- action items --------------------------------------------------------------------------------


def _accept_proposed(request, review: PostIncidentReview, index: int) -> ActionItem:
    """Accept proposed item `index`: an action item of its text (which marks the proposal
    accepted), owned by the review's owner (else the user), due in two weeks."""
    proposals = review.proposed_action_items
    if not 0 <= index < len(proposals):
        raise Http404("No such proposed action item.")
    return action_item_create(
        incident=review.incident,
        actor=request.user,
        source=PORTAL,
        title=proposals[index]["text"],
        owner=review.owner or request.user,
        due_date=timezone.localdate() + ACCEPTED_ITEM_DUE_IN,
    )


@post_only("postmortems:detail", "number")
@portal_view(ADD_ACTION_ITEM)
def proposed_accept(request, number, index):
    review = _review_or_404(request, number)
    try:
        item = _accept_proposed(request, review, index)
    except ApplicationError as error:
        messages.error(request, error.message)
        return _document_page(request, review, status=error.status)
    messages.success(request, f"Action item added: {item.title}")
    return _to_document(number)


@post_only("postmortems:detail", "number")
@portal_view(ADD_ACTION_ITEM)
def action_item_add(request, number):
    review = _review_or_404(request, number)
    form = ActionItemForm(request.POST, auto_id="id_item_%s")

    def write(form):
        item = action_item_create(
            incident=review.incident, actor=request.user, source=PORTAL, **form.cleaned_data
        )
        return f"Action item added: {item.title}"

    return _submit(request, review, form, "item", write)


@post_only("postmortems:detail", "number")
@portal_view(CHANGE_ACTION_ITEM)
def action_item_status(request, number, pk):
    """Open, in progress, done, or won't do with a reason."""
    review = _review_or_404(request, number)
    item = get_object_or_404(ActionItem, pk=pk, incident=review.incident)
    form = ActionItemStatusForm(request.POST, auto_id=f"id_item{pk}_%s")

    def write(form):
        changes = {"status": form.cleaned_data["status"]}
        if changes["status"] == ActionItemStatus.WONT_DO:
            changes["wont_do_reason"] = form.cleaned_data["wont_do_reason"]
        updated = action_item_update(item=item, actor=request.user, source=PORTAL, **changes)
        return f"{updated.title}: {updated.get_status_display().lower()}."

    return _submit(request, review, form, f"item_{pk}", write)
