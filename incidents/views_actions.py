"""One tap to act: acknowledge or take an incident from a list row or a notification, the
acknowledge page that links in pages, emails and chat messages open (a GET shows one button,
only the POST acknowledges), the closure checklist ticked without a reload (JSON when asked),
and paging people or adding responders from the incident.

Every write goes through the services. A button on a list returns to the page it came from
(`next`, when it is an address of this site) with a message saying what happened."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from incidents import selectors, services, views
from incidents.choices import IncidentStatus
from incidents.forms import ChecklistForm, assignable_users
from incidents.forms_actions import TargetForm
from incidents.models import Incident, Schedule, Team
from incidents.oncall import paging
from incidents.oncall.services import oncall_now
from incidents.views import PORTAL, WORK, portal_view
from itsm.errors import ApplicationError
from itsm.http import post_only
from itsm.templatetags.people import display_name


def _incident(number: str) -> Incident:
    """The incident, with the people its pages name; the acknowledge page shows more."""
    return get_object_or_404(Incident.objects.select_related("assignee", "team"), number=number)


def _safe_next(request) -> str | None:
    """The `next` address posted with the form, when it is one of this site's."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else None


def _back(request, incident: Incident, write) -> object:
    """Run `write()` (a service call returning what to tell the user), then go back to `next`
    (else the incident) with that message, or with the refusal's message: the row's button
    has no form to re-render."""
    try:
        messages.success(request, write())
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect(_safe_next(request) or incident.get_absolute_url())


# --- acknowledge and take ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@portal_view(WORK)
def incident_acknowledge(request, number):
    """GET: the incident's summary and one button (or, once acknowledged, by whom and when).
    POST: acknowledge it, then back to `next` or the incident."""
    incident = get_object_or_404(selectors.incident_queryset(), number=number)
    if request.method == "GET":
        return _acknowledge_page(request, incident)

    def write():
        updated = services.incident_acknowledge(
            incident=incident, actor=request.user, source=PORTAL
        )
        if updated.assignee_id == request.user.pk:
            return f"{incident.number} acknowledged: it is yours now."
        return f"{incident.number} acknowledged: {display_name(updated.assignee)} has it."

    if _safe_next(request):
        return _back(request, incident, write)
    try:
        messages.success(request, write())
    except ApplicationError as error:  # already acknowledged, say: the page says by whom
        messages.error(request, error.message)
        return _acknowledge_page(request, incident, status=error.status)
    return redirect(incident)


def _acknowledge_page(request, incident: Incident, *, status: int = 200):
    acknowledged = incident.status != IncidentStatus.NEW
    context = {
        "incident": incident,
        "acknowledgement": selectors.acknowledgement(incident=incident) if acknowledged else None,
    }
    return render(request, "incidents/acknowledge.html", context, status=status)


@post_only("incidents:detail", "number")
@portal_view(WORK)
def incident_take(request, number):
    """The signed-in responder becomes the assignee."""
    incident = _incident(number)

    def write():
        services.incident_take(incident=incident, actor=request.user, source=PORTAL)
        return f"{incident.number} is yours now."

    return _back(request, incident, write)


# --- the checklist, without a reload ------------------------------------------------------------


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@post_only("incidents:detail", "number")
@portal_view(WORK)
def incident_checklist(request, number):
    """Tick or untick an item. The page's script asks for JSON: the item's new state and its
    row, rendered as the page renders it; a form post gets the incident page, as before."""
    if not _wants_json(request):
        return views.checklist_form_post(request, number)
    incident = _incident(number)
    form = ChecklistForm(request.POST)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        body = {"code": "invalid", "message": "Say which item to tick.", "fields": fields}
        return JsonResponse({"error": body}, status=400)
    try:
        services.incident_tick_checklist(
            incident=incident, actor=request.user, source=PORTAL, **form.cleaned_data
        )
    except ApplicationError as error:
        return JsonResponse(error.as_dict(), status=error.status)
    return JsonResponse(_checklist_item(request, incident, form.cleaned_data["item"]))


def _checklist_item(request, incident: Incident, item: str) -> dict:
    fresh = selectors.incident_detail_queryset().get(pk=incident.pk)
    row = next(row for row in selectors.checklist_rows(fresh) if row["item"] == item)
    html = render_to_string(
        "incidents/_checklist_item.html", {"incident": fresh, "row": row}, request=request
    )
    return {
        "item": item,
        "done": row["done"],
        "ticked_by": row["ticked_by"],
        "ticked_at": row["ticked_at"].isoformat() if row["ticked_at"] else None,
        "html": html,
    }


# --- paging and responders ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@portal_view(WORK)
def incident_responders(request, number):
    """The incident's responders and the two forms: page someone now, add responders."""
    incident = _incident(number)
    if request.method == "GET":
        return _responders_page(request, incident)

    def write(form):
        added = paging.incident_add_responders(
            incident=incident, actor=request.user, source=PORTAL, **form.service_arguments()
        )
        names = ", ".join(display_name(responder.user) for responder in added)
        return f"Added {names} as responders; they are paged."

    return _submit_target(request, incident, "add", write)


@post_only("incidents:responders", "number")
@portal_view(WORK)
def incident_page(request, number):
    """Page someone now (the form is on the responders page)."""
    incident = _incident(number)

    def write(form):
        event = paging.incident_page(
            incident=incident, actor=request.user, source=PORTAL, **form.service_arguments()
        )
        return f"{event.summary}."

    return _submit_target(request, incident, "page", write)


def _target_choices() -> dict:
    """Whom the forms offer: schedules (with who is on call now), teams and people."""
    schedules = list(Schedule.objects.all())
    return {
        "people": list(assignable_users()),
        "teams": list(Team.objects.all()),
        "schedules": schedules,
        "on_call": oncall_now(schedules=schedules, at=timezone.now()),
    }


def _submit_target(request, incident: Incident, slot: str, write):
    """Validate the `slot` form ("page" or "add"), run `write(form)`, and come back to the
    responders page: with the message, or with the form's errors and the refusal's status."""
    choices = _target_choices()
    form = TargetForm(request.POST, prefix=slot, **choices)
    if not form.is_valid():
        messages.error(request, views.INVALID_FORM)
        return _responders_page(request, incident, choices, status=400, **{slot: form})
    try:
        done = write(form)
    except ApplicationError as error:
        form.add_application_error(error)
        messages.error(request, error.message)
        return _responders_page(request, incident, choices, status=error.status, **{slot: form})
    messages.success(request, done)
    return redirect("incidents:responders", incident.number)


def _responders_page(request, incident: Incident, choices=None, *, status: int = 200, **bound):
    choices = choices or _target_choices()
    context = {
        "incident": incident,
        "responders": list(selectors.incident_responders(incident=incident)),
        **{
            f"{slot}_form": bound.get(slot) or TargetForm(prefix=slot, **choices)
            for slot in ("page", "add")
        },
    }
    return render(request, "incidents/responders.html", context, status=status)
