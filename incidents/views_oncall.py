"""The portal's on-call page: for every schedule, who is on call now and the shifts of the next
two weeks. Read-only: managers set schedules and overrides up in the admin or the API."""

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.oncall import BOARD_HORIZON, oncall_board
from incidents.views import portal_view


@require_GET
@portal_view("incidents.view_schedule")
def oncall(request):
    now = timezone.now()
    context = {
        "board": oncall_board(now=now),
        "until": now + BOARD_HORIZON,
        "horizon_days": BOARD_HORIZON.days,
    }
    return render(request, "incidents/oncall.html", context)
