"""The staff portal: server-rendered pages. Reads go through selectors.py, every write through
services.py; an ApplicationError from a service re-renders the page with its message, its field
errors and its HTTP status (400, 403 or 409), and nothing is changed."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from incidents import selectors, services
from incidents.alerts.selectors import incident_alert_cards
from incidents.choices import ChangeSource, IncidentStatus, Priority, Transition
from incidents.filters import PortalIncidentFilter, SlaWindow
from incidents.forms import (
    ChecklistForm,
    IncidentCreateForm,
    IncidentEditForm,
    NoteForm,
    PriorityForm,
    TransitionForm,
    assignable_users,
)
from incidents.history import label_changes
from incidents.models import Incident, Service, Team
from itsm.errors import ApplicationError
from itsm.http import post_only
from itsm.templatetags.people import display_name

VIEW = "incidents.view_incident"
WORK = "incidents.work_incident"
PORTAL = ChangeSource.PORTAL
INVALID_FORM = "Please correct the highlighted fields."


def portal_view(permission: str):
    """Signed in (else the login page), then holding `permission` (else 403). A user with no
    role holds no permission, so every portal page answers 403 to them."""

    def decorate(view):
        return login_required(permission_required(permission, raise_exception=True)(view))

    return decorate


def _incident_or_404(number: str) -> Incident:
    return get_object_or_404(selectors.incident_detail_queryset(), number=number.upper())


# --- pages -------------------------------------------------------------------------------------


@require_GET
@portal_view(VIEW)
def dashboard(request):
    return render(request, "incidents/dashboard.html", dashboard_context(request))


def dashboard_context(request) -> dict:
    """What the dashboard's cards show (the page, and its live refresh in views_live)."""
    lists = selectors.dashboard_lists(user=request.user)
    return {"lists": lists, "breaching": selectors.breaching_soon()}


@require_GET
@portal_view(VIEW)
def incident_list(request):
    filters, page, valid = list_results(request)
    context = {
        "page": page,
        "filters": filters,
        "selected": {name: request.GET.getlist(name) for name in ("status", "priority")},
        "statuses": IncidentStatus.choices,
        "priorities": Priority.choices,
        "sla_windows": SlaWindow.choices,
        "services": Service.objects.only("slug", "name"),
        "teams": Team.objects.only("slug", "name"),
        "assignees": assignable_users().only("username", "first_name", "last_name"),
    }
    return render(request, "incidents/list.html", context, status=200 if valid else 400)


def list_results(request):
    """The list's filters, the page of incidents they select, and whether they are valid, for
    the request's query string (the page, and its live refresh in views_live)."""
    filters = PortalIncidentFilter(
        request.GET, queryset=selectors.incident_queryset(), request=request
    )
    valid = filters.is_valid()
    page = Paginator(filters.qs, settings.PORTAL_PAGE_SIZE).get_page(request.GET.get("page"))
    return filters, page, valid


@portal_view("incidents.add_incident")
def incident_create(request):
    form = IncidentCreateForm(request.POST or None)
    if request.method != "POST":
        return _create_page(request, form)
    if not form.is_valid():
        messages.error(request, INVALID_FORM)
        return _create_page(request, form, status=400)
    try:
        incident = services.incident_create(
            actor=request.user, source=PORTAL, **form.service_arguments()
        )
    except ApplicationError as error:
        form.add_application_error(error)
        messages.error(request, error.message)
        return _create_page(request, form, status=error.status)
    messages.success(request, f"{incident.number} logged as {incident.priority}.")
    return redirect(incident)


def _create_page(request, form: IncidentCreateForm, *, status: int = 200):
    """The create form with the priority matrix, which static/js/create-incident.js reads to
    show the priority impact × urgency will give before the form is sent; the server renders
    the first answer for the form's current values."""
    matrix = selectors.priority_matrix()
    cell = f"{form['impact'].value()},{form['urgency'].value()}"
    context = {"form": form, "matrix": matrix, "preview": matrix.get(cell)}
    return render(request, "incidents/create.html", context, status=status)


class TimelineQuery(forms.Form):
    """Where a page's timeline stands: `since`, the newest event it shows (its live refresh
    asks for the newer ones); `before`, the oldest (its "Show older events" asks for the ones
    before it)."""

    since = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    before = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)


def timeline_query(request, name: str) -> int | None:
    """The event id `name` (since, before) of the query string, or None; 400 when it is not
    one."""
    form = TimelineQuery(request.GET)
    if not form.is_valid() and name in form.errors:
        raise BadRequest(f"{name}: must be an event id (a whole number).")
    return form.cleaned_data.get(name)


@require_GET
@portal_view(VIEW)
def incident_detail(request, number):
    """The page, with the latest timeline events, or (`?before=<event id>`, where the "Show
    older events" link leads without the page's script) the events before that one."""
    return detail_page(request, _incident_or_404(number), before=timeline_query(request, "before"))


def detail_page(
    request, incident: Incident, *, status: int = 200, before: int | None = None, **bound_forms
):
    """The detail page; `bound_forms` (transition, note, priority, edit) replace the blank form
    of that slot, so a rejected submission comes back with the user's input and its errors."""
    user = request.user
    events = selectors.visible_timeline(incident=incident, user=user)
    timeline, older = selectors.timeline_page(events, before=before)
    context = {
        "incident": incident,
        "transition_forms": transition_forms(incident, user, bound_forms.get("transition")),
        "note_form": bound_forms.get("note") or NoteForm(auto_id="id_note_%s"),
        "priority_form": bound_forms.get("priority")
        or PriorityForm(auto_id="id_priority_%s", initial={"priority": incident.priority}),
        "edit_form": bound_forms.get("edit") or IncidentEditForm.for_incident(incident),
        "checklist": selectors.checklist_rows(incident),
        "alert_cards": incident_alert_cards(incident=incident),
        "timeline": timeline,
        "older": older,
        "before": before,
        "responders": selectors.timeline_responders(events),
    }
    context.update(page_history(incident))
    return render(request, "incidents/detail.html", context, status=status)


def page_history(incident: Incident) -> dict:
    """The latest HISTORY_SHOWN field changes (`history`) and whether there are older ones
    (`older_history`): one more is read to tell."""
    rows = selectors.history_with_diffs(
        incident=incident, person=display_name, latest=selectors.HISTORY_SHOWN + 1
    )
    history = label_changes(Incident, rows[: selectors.HISTORY_SHOWN])
    return {"history": history, "older_history": len(rows) > selectors.HISTORY_SHOWN}


def transition_forms(incident: Incident, user, failed: TransitionForm | None = None) -> list:
    """A form for each transition `user` may make now (`failed`, a rejected submission, in its
    place), each with its `blocker` when its guard is unmet (the page and its live refresh)."""
    forms = [
        failed if failed is not None and failed.name == name else TransitionForm(name)
        for name in services.allowed_transitions(incident, user)
    ]
    for form in forms:
        form.blocker = services.transition_blocker(incident, form.name)
    return forms


# --- writes --------------------------------------------------------------------------------------


def _submit(request, incident: Incident, form, slot: str, write):
    """Validate `form`, then run `write(form)`: a service call that returns what to tell the
    user. On success, back to the detail page with that message; on bad input or a refused
    write, the detail page again with the form's errors and the failure's HTTP status, and
    nothing changed."""
    if not form.is_valid():
        messages.error(request, INVALID_FORM)
        return detail_page(request, incident, status=400, **{slot: form})
    try:
        done = write(form)
    except ApplicationError as error:
        form.add_application_error(error)
        messages.error(request, error.message)
        return detail_page(request, incident, status=error.status, **{slot: form})
    messages.success(request, done)
    return redirect(incident)


@post_only("incidents:detail", "number")
@portal_view(WORK)
def incident_transition(request, number, name):
    if name not in Transition.values:
        raise Http404(f"No transition {name!r}.")
    incident = _incident_or_404(number)
    form = TransitionForm(name, request.POST)

    def write(form):
        updated = services.incident_transition(
            incident=incident, name=name, actor=request.user, source=PORTAL, **form.cleaned_data
        )
        return f"{updated.number} is now {updated.get_status_display().lower()}."

    return _submit(request, incident, form, "transition", write)


@post_only("incidents:detail", "number")
@portal_view("incidents.add_incidentevent")
def incident_note(request, number):
    incident = _incident_or_404(number)
    form = NoteForm(request.POST, auto_id="id_note_%s")

    def write(form):
        services.incident_add_note(
            incident=incident, actor=request.user, source=PORTAL, **form.cleaned_data
        )
        return "Note added."

    return _submit(request, incident, form, "note", write)


def checklist_form_post(request, number):
    """The checklist's form posted without the page's script: the page again, with a message
    (views_actions.incident_checklist, the route, has checked the method and the role)."""
    incident = _incident_or_404(number)
    form = ChecklistForm(request.POST)

    def write(form):
        services.incident_tick_checklist(
            incident=incident, actor=request.user, source=PORTAL, **form.cleaned_data
        )
        return "Checklist updated."

    return _submit(request, incident, form, "checklist", write)


@post_only("incidents:detail", "number")
@portal_view("incidents.override_priority")
def incident_priority(request, number):
    incident = _incident_or_404(number)
    form = PriorityForm(request.POST, auto_id="id_priority_%s")

    def write(form):
        updated = services.incident_change_priority(
            incident=incident, actor=request.user, source=PORTAL, **form.cleaned_data
        )
        return f"{updated.number} is now {updated.priority}."

    return _submit(request, incident, form, "priority", write)


@post_only("incidents:detail", "number")
@portal_view("incidents.change_incident")
def incident_edit(request, number):
    incident = _incident_or_404(number)
    form = IncidentEditForm.for_incident(incident, data=request.POST)

    def write(form):
        changes = form.changes()
        if not changes:
            return "Nothing changed."
        services.incident_update(incident=incident, actor=request.user, source=PORTAL, **changes)
        return "Incident updated."

    return _submit(request, incident, form, "edit", write)
