"""The live pages' fragments: the parts of the dashboard, the incident list and an incident's
page that change as things happen, rendered by the same include files as the full pages.

static/js/incidents-live.js fetches them when its socket (incidents.consumers) tells of a
change, and again after a reconnect, and swaps them in: the server answers from the database,
so a page that missed events catches up. An incident's page also fetches the older timeline
events, a page at a time, when asked to show them. Read-only, and checked like the pages they
belong to.
"""

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from incidents import selectors
from incidents.consumers import CATCH_UP_LIMIT
from incidents.models import Incident
from incidents.timeline import events_since
from incidents.views import (
    VIEW,
    dashboard_context,
    list_results,
    portal_view,
    timeline_query,
    transition_forms,
)


@require_GET
@portal_view(VIEW)
def dashboard_cards(request):
    context = {**dashboard_context(request), "back": reverse("incidents:dashboard")}
    return render(request, "incidents/live/dashboard.html", context)


@require_GET
@portal_view(VIEW)
def list_rows(request):
    """The list's results for the same query string as the page's."""
    filters, page, valid = list_results(request)
    context = {"page": page, "filters": filters, "back": _list_address(request)}
    return render(request, "incidents/live/list.html", context, status=200 if valid else 400)


def _list_address(request) -> str:
    """The list page these rows belong to, where a row's one-tap action comes back to."""
    query = request.META.get("QUERY_STRING", "")
    return reverse("incidents:list") + (f"?{query}" if query else "")


@require_GET
@portal_view(VIEW)
def incident_parts(request, number):
    """An incident's header, actions, SLA timers, and the timeline events after `since` that
    the user may read, newest first; at most CATCH_UP_LIMIT, else the fragment says it is
    incomplete (the page then loads afresh)."""
    since = timeline_query(request, "since")
    incident = get_object_or_404(selectors.incident_queryset(), number=number)
    events = selectors.visible_timeline(incident=incident, user=request.user)
    if since is not None:
        events = events_since(events, since)
    newest = list(events.reverse()[: CATCH_UP_LIMIT + 1])
    context = {
        "incident": incident,
        "transition_forms": transition_forms(incident, request.user),
        "events": newest[:CATCH_UP_LIMIT],
        "complete": len(newest) <= CATCH_UP_LIMIT,
    }
    return render(request, "incidents/live/incident.html", context)


@require_GET
@portal_view(VIEW)
def incident_older_events(request, number):
    """The page of timeline events before event `before` that the user may read, newest first,
    and the link to the page after it: what "Show older events" appends to the timeline."""
    before = timeline_query(request, "before")
    incident = get_object_or_404(Incident.objects.only("number"), number=number)
    events = selectors.visible_timeline(incident=incident, user=request.user)
    timeline, older = selectors.timeline_page(events, before=before)
    context = {"incident": incident, "events": timeline, "older": older}
    return render(request, "incidents/live/older_events.html", context)
