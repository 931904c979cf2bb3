"""The war-room pages: the list of major incidents, declaring one, the room, and demoting.

The room is a shell: the server renders what a page needs before its websocket opens (title,
state, manager, impact, the forms a writer may use) and static/js/warroom.js fills in and keeps
live everything else from the socket (docs/warroom-protocol.md). Reads go through selectors.py
and every write through services.py; as on the incident pages, an ApplicationError re-renders
the form with its message and its HTTP status, and nothing is changed."""

from django.contrib import messages
from django.db.models import Case, Count, Q, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.choices import ChangeSource, EventType, IncidentStatus
from incidents.forms import assignable_users
from incidents.models import TEXT_MAX_LENGTH, Incident
from incidents.views import INVALID_FORM, portal_view
from itsm.errors import ApplicationError
from itsm.http import post_only
from warroom import selectors, services
from warroom.choices import SINGLE_HOLDER_ROLES, MajorIncidentState, WarRoomRole
from warroom.forms import DeclareForm, DemoteForm
from warroom.models import (
    DECLARE_PERMISSION,
    TASK_TITLE_MAX_LENGTH,
    VIEW_PERMISSION,
    WORK_PERMISSION,
    MajorIncident,
)

PORTAL = ChangeSource.PORTAL
LIVE_STATES = [MajorIncidentState.ACTIVE, MajorIncidentState.RESOLVED]


def _major_or_404(number: str) -> MajorIncident:
    return get_object_or_404(selectors.major_incident_queryset(), incident__number=number)


def _submit(request, form, write, page):
    """Validate `form`, then run `write(form)`: a service call that returns the object to go
    to and what to tell the user. On bad input or a refused write, `page(form, status)`: the
    form again with its errors and the failure's HTTP status, and nothing changed."""
    if not form.is_valid():
        messages.error(request, INVALID_FORM)
        return page(form, 400)
    try:
        target, done = write(form)
    except ApplicationError as error:
        form.add_application_error(error)
        messages.error(request, error.message)
        return page(form, error.status)
    messages.success(request, done)
    return redirect(target)


# --- pages -------------------------------------------------------------------------------------


@require_GET
@portal_view(VIEW_PERMISSION)
def warroom_list(request):
    """Every major incident, the live ones first, each with how many people have it open."""
    present = Q(presence__seen_at__gte=timezone.now() - selectors.PRESENCE_TIMEOUT)
    rooms = (
        selectors.major_incident_list()
        .annotate(
            live=Case(When(state__in=LIVE_STATES, then=Value(0)), default=Value(1)),
            present=Count("presence__user", filter=present, distinct=True),
        )
        .order_by("live", "-declared_at", "-id")
    )
    return render(request, "warroom/list.html", {"rooms": rooms})


@require_GET
@portal_view(VIEW_PERMISSION)
def warroom_room(request, number):
    return _room_page(request, _major_or_404(number))


def _room_page(request, major: MajorIncident, *, status: int = 200, demote_form=None):
    user = request.user
    # A room that ended (closed, demoted) is read-only: the services refuse its writes, and
    # the page offers none.
    can_write = user.has_perm(WORK_PERMISSION) and major.is_live
    can_declare = user.has_perm(DECLARE_PERMISSION)
    config = {
        "ws_path": major.websocket_path,
        "username": user.get_username(),
        "can_write": can_write,
        "event_types": dict(EventType.choices),
        "sources": dict(ChangeSource.choices),
        "states": dict(MajorIncidentState.choices),
        "statuses": dict(IncidentStatus.choices),
    }
    context = {
        "major": major,
        "config": config,
        "can_write": can_write,
        "can_demote": can_declare and major.state == MajorIncidentState.ACTIVE,
        "demote_form": demote_form or DemoteForm(auto_id="id_demote_%s"),
        "roles": [
            {"value": role.value, "label": role.label, "single": role in SINGLE_HOLDER_ROLES}
            for role in WarRoomRole
        ],
        "staff": list(assignable_users().only("username", "first_name", "last_name"))
        if can_write
        else [],
        "note_max_length": TEXT_MAX_LENGTH,
        "task_max_length": TASK_TITLE_MAX_LENGTH,
    }
    return render(request, "warroom/room.html", context, status=status)


# --- writes ------------------------------------------------------------------------------------


@portal_view(DECLARE_PERMISSION)
def warroom_declare(request, number):
    incident = get_object_or_404(Incident, number=number)
    initial = {
        "major_incident_manager": request.user.get_username(),
        "bridge_link": selectors.default_bridge_link(incident),
    }
    form = DeclareForm(request.POST or None, initial=initial)

    def page(form, status=200):
        context = {"incident": incident, "form": form}
        return render(request, "warroom/declare.html", context, status=status)

    if request.method != "POST":
        return page(form)

    def write(form):
        major = services.major_incident_declare(
            incident=incident, actor=request.user, source=PORTAL, **form.service_arguments()
        )
        return major, f"{major.number} is a major incident; its war room is open."

    return _submit(request, form, write, page)


@post_only("warroom:room", "number")
@portal_view(DECLARE_PERMISSION)
def warroom_demote(request, number):
    major = _major_or_404(number)
    form = DemoteForm(request.POST, auto_id="id_demote_%s")

    def write(form):
        demoted = services.major_incident_demote(
            major=major, actor=request.user, source=PORTAL, **form.cleaned_data
        )
        return demoted, f"{demoted.number} is no longer a major incident."

    def page(form, status):
        return _room_page(request, major, status=status, demote_form=form)

    return _submit(request, form, write, page)
