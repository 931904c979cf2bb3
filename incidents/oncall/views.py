"""The portal's on-call page: for every schedule, who is on call now and the shifts of the next
two weeks; and taking or giving a shift (an override) from it. A responder takes a shift for
themselves or gives one of theirs to someone else; a manager sets anyone's (the rules are
incidents.oncall.services.schedule_override_create's)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods

from incidents.forms import assignable_users
from incidents.forms_actions import OverrideForm
from incidents.models import Schedule
from incidents.oncall.services import BOARD_HORIZON, oncall_board, schedule_override_create
from incidents.views import INVALID_FORM, portal_view
from itsm.errors import ApplicationError
from itsm.templatetags.people import display_name

OVERRIDE_PERMISSION = "incidents.add_scheduleoverride"


@require_GET
@portal_view("incidents.view_schedule")
def oncall(request):
    return _board_page(request)


def _board_page(request, *, form=None, status: int = 200):
    """The board; `form` is a rejected override, shown again with its errors."""
    now = timezone.now()
    board = oncall_board(now=now)
    may_override = request.user.has_perm(OVERRIDE_PERMISSION)
    people = list(assignable_users()) if may_override else []
    schedules = [row.schedule for row in board]
    context = {
        "board": board,
        "until": now + BOARD_HORIZON,
        "horizon_days": BOARD_HORIZON.days,
        "may_override": may_override,
        "people": people,
        "override_form": form
        or OverrideForm(
            schedules=schedules, people=people, initial={"user": request.user.get_username()}
        ),
    }
    return render(request, "incidents/oncall.html", context, status=status)


@require_http_methods(["GET", "POST"])
@portal_view(OVERRIDE_PERMISSION)
def oncall_override(request):
    """POST: take or give a shift. GET: the on-call page, where the forms are."""
    if request.method == "GET":
        return redirect("incidents:oncall")
    schedules = Schedule.objects.all()
    form = OverrideForm(request.POST, schedules=schedules, people=list(assignable_users()))
    if not form.is_valid():
        messages.error(request, INVALID_FORM)
        return _board_page(request, form=form, status=400)
    try:
        override = schedule_override_create(actor=request.user, **form.service_arguments())
    except ApplicationError as error:
        form.add_application_error(error)
        messages.error(request, error.message)
        return _board_page(request, form=form, status=error.status)
    messages.success(
        request,
        f"{display_name(override.user)} is on call for {override.schedule.name} from "
        f"{_when(override.starts_at)} until {_when(override.ends_at)}.",
    )
    return redirect("incidents:oncall")


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "D j M, H:i")
