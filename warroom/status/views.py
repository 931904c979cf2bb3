"""The public status page at /status/: no sign-in, no JavaScript, no internal data
(docs/status-page.md), and the war room's form that posts an incident's public update. The
Statuspage-compatible JSON is in statuspage.py, the feeds in feeds.py."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from incidents.choices import ChangeSource
from incidents.views import portal_view
from itsm.errors import ApplicationError
from itsm.http import post_only
from warroom.models import WORK_PERMISSION, MajorIncident, StatusIncident
from warroom.status import selectors, services
from warroom.status.forms import StatusUpdateForm


@require_GET
def status_page(request):
    page = selectors.status_page()
    context = {"page": page, "page_name": settings.STATUS_PAGE_NAME}
    return render(request, "warroom/status/page.html", context)


@post_only("warroom:room", "number")
@portal_view(WORK_PERMISSION)
def post_update(request, number):
    """The war room's "Post status page update" form: posted, or refused with the reason (the
    room again, with its message), nothing written."""
    major = get_object_or_404(
        MajorIncident.objects.select_related("incident"), incident__number=number
    )
    incident = major.incident
    form = StatusUpdateForm(
        request.POST,
        components=selectors.public_components(),
        public=StatusIncident.objects.filter(incident=incident).first(),
        title=incident.title,
    )
    if not form.is_valid():
        messages.error(request, _form_problem(form))
        return redirect(major)
    try:
        services.status_update_post(
            incident=incident,
            actor=request.user,
            source=ChangeSource.PORTAL,
            status=form.cleaned_data["status"],
            body=form.cleaned_data["body"],
            name=form.cleaned_data["name"],
            components=form.component_states(),
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(major)
    messages.success(request, "Posted to the public status page.")
    return redirect(major)


def _form_problem(form) -> str:
    problems = [
        f"{form.fields[name].label or name}: {' '.join(errors)}"
        for name, errors in form.errors.items()
        if name in form.fields
    ]
    return "The status page update was not posted. " + "; ".join(problems)
