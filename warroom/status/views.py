"""The public status page at /status/: no sign-in, no JavaScript, no internal data
(docs/status-page.md), and the war room's form that posts an incident's public update. The
Statuspage-compatible JSON is in statuspage.py, the feeds in feeds.py."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from incidents.choices import ChangeSource
from incidents.models import Incident
from incidents.views import INVALID_FORM, portal_view
from itsm.errors import ApplicationError
from warroom.models import WORK_PERMISSION, StatusIncident
from warroom.status import cache, selectors, services
from warroom.status.forms import StatusUpdateForm

PAGE_TEMPLATE = "warroom/status/page.html"
INCIDENT_TEMPLATE = "warroom/status/_incident.html"


@require_GET
@cache.cached("page", per_minute=True)
def status_page(request):
    return HttpResponse(page_html(selectors.status_page()))


def page_html(page: selectors.StatusPage, *, subscribe: dict | None = None) -> str:
    """The page as everyone sees it: rendered without the request, so that nothing of the
    visitor (session, user, messages) can be in what the cache keeps."""
    shown = page.shown_incidents
    stamps = {incident.pk: incident.last_update for incident in shown}
    html = cache.fragments(INCIDENT_TEMPLATE, stamps, _incidents_html)
    for incident in shown:
        incident.html = html.get(incident.pk, "")
    context = {"page": page, "page_name": settings.STATUS_PAGE_NAME, "subscribe": subscribe}
    return render_to_string(PAGE_TEMPLATE, context)


def _incidents_html(ids) -> dict[int, str]:
    return {
        pk: render_to_string(INCIDENT_TEMPLATE, {"incident": incident})
        for pk, incident in selectors.incidents_by_id(ids).items()
    }


@portal_view(WORK_PERMISSION)
def post_update(request, number):
    """Post an incident's public update: the form on a page of its own (linked from the
    incident page; the war room has the same form in a card). Posted, it goes back to the war
    room of a major incident, else to the incident; bad input or a refusal shows the form again
    with its message and HTTP status, nothing written."""
    incident = get_object_or_404(Incident.objects.select_related("major_incident"), number=number)
    if not services.may_post_status(request.user, incident):
        raise PermissionDenied
    form = status_update_form(incident, request.POST or None)
    if request.method != "POST":
        return _update_page(request, incident, form)
    if not form.is_valid():
        messages.error(request, INVALID_FORM)
        return _update_page(request, incident, form, status=400)
    try:
        services.status_update_post(
            incident=incident,
            actor=request.user,
            source=ChangeSource.PORTAL,
            components=form.component_states(),
            **{name: form.cleaned_data[name] for name in ("status", "body", "name")},
        )
    except ApplicationError as error:
        form.add_application_error(error)
        messages.error(request, error.message)
        return _update_page(request, incident, form, status=error.status)
    messages.success(request, "Posted to the public status page.")
    return redirect(_back_to(incident))


def status_update_form(incident: Incident, data=None) -> StatusUpdateForm:
    return StatusUpdateForm(
        data,
        components=selectors.public_components(),
        public=StatusIncident.objects.filter(incident=incident).first(),
        title=incident.title,
        auto_id="id_status_%s",
    )


def _back_to(incident: Incident):
    major = getattr(incident, "major_incident", None)
    return major if major is not None and major.is_live else incident


def _update_page(request, incident, form, *, status=200):
    context = {"incident": incident, "status_form": form, "back": _back_to(incident)}
    return render(request, "warroom/status/post_update.html", context, status=status)
