"""The status page as Atlassian Statuspage's public API (v2) writes it, so that existing
widgets and tools read it unchanged: the same paths (`/status/api/v2/summary.json`, …), field
names and values (docs/status-page.md lists them).

Ids are strings, as Statuspage's are: a component's slug, `group-<n>` for a group, the
incident's number, `maintenance-<n>`, and each update's number. Times are ISO 8601 with
milliseconds, in the page's time zone.
"""

from django.conf import settings
from django.db.models import Max
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from warroom.choices import Indicator
from warroom.models import Maintenance, StatusComponent, StatusIncident
from warroom.status import cache, selectors

MAINTENANCE_IMPACT = "maintenance"


def _time(moment) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="milliseconds") if moment else None


def page_url() -> str:
    return settings.PORTAL_BASE_URL + reverse("status:page")


def page_json() -> dict:
    """Statuspage's `page`: updated_at is the last change of any component, public incident
    or maintenance (three indexed aggregates)."""
    stamps = [
        model.objects.aggregate(last=Max("updated_at"))["last"]
        for model in (StatusComponent, StatusIncident, Maintenance)
    ]
    return {
        "id": settings.STATUS_PAGE_ID,
        "name": settings.STATUS_PAGE_NAME,
        "url": page_url(),
        "time_zone": settings.TIME_ZONE,
        "updated_at": _time(max(filter(None, stamps), default=None)),
    }


# --- components ---------------------------------------------------------------------------------


def _group_id(group) -> str:
    return f"group-{group.pk}"


def components_json(components) -> list[dict]:
    """Every public component, and each group as a component with `group` true that lists
    its components' ids (as Statuspage does), in page order."""
    rows = []
    for group in selectors.grouped(components):
        if group.group is not None:
            rows.append(_group_json(group, position=len(rows) + 1))
        for component in group.components:
            rows.append(component_json(component, position=len(rows) + 1))
    return rows


def _group_json(group: selectors.Group, *, position: int) -> dict:
    row = group.group
    return {
        "id": _group_id(row),
        "name": row.name,
        "status": group.state,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
        "position": position,
        "description": None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": settings.STATUS_PAGE_ID,
        "group": True,
        "only_show_if_degraded": False,
        "components": [c.slug for c in group.components],
    }


def component_json(component: StatusComponent, *, position: int) -> dict:
    return {
        "id": component.slug,
        "name": component.name,
        "status": component.state,
        "created_at": _time(component.created_at),
        "updated_at": _time(component.updated_at),
        "position": position,
        "description": component.description or None,
        "showcase": True,
        "start_date": None,
        "group_id": _group_id(component.group) if component.group_id else None,
        "page_id": settings.STATUS_PAGE_ID,
        "group": False,
        "only_show_if_degraded": False,
    }


# --- incidents and maintenances -----------------------------------------------------------------


def incident_json(incident: StatusIncident, components: dict) -> dict:
    """`components`: the page's public components by id, with their state now."""
    return {
        "id": incident.number,
        "name": incident.name,
        "status": incident.status,
        "created_at": _time(incident.created_at),
        "updated_at": _time(incident.updated_at),
        "monitoring_at": _time(incident.monitoring_at),
        "resolved_at": _time(incident.resolved_at),
        "impact": incident.impact,
        "shortlink": f"{page_url()}#{incident.number}",
        "started_at": _time(incident.started_at),
        "page_id": settings.STATUS_PAGE_ID,
        "incident_updates": [_update_json(u, incident.number) for u in incident.updates.all()],
        "components": [
            component_json(components[impact.component_id], position=position)
            for position, impact in enumerate(incident.impacts.all(), start=1)
            if impact.component_id in components
        ],
    }


def _update_json(update, parent_id: str, *, affected=True) -> dict:
    rows = list(update.affected_components.all()) if affected else []
    return {
        "id": str(update.pk),
        "status": update.status,
        "body": update.body,
        "incident_id": parent_id,
        "created_at": _time(update.created_at),
        "updated_at": _time(update.created_at),
        "display_at": _time(update.created_at),
        "affected_components": [
            {
                "code": row.component.slug,
                "name": row.component.name,
                "old_status": row.old_status,
                "new_status": row.new_status,
            }
            for row in rows
        ]
        or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def maintenance_json(maintenance: Maintenance, components: dict) -> dict:
    maintenance_id = f"maintenance-{maintenance.pk}"
    return {
        "id": maintenance_id,
        "name": maintenance.name,
        "status": maintenance.status,
        "created_at": _time(maintenance.created_at),
        "updated_at": _time(maintenance.updated_at),
        "monitoring_at": _time(maintenance.verifying_at),
        "resolved_at": _time(maintenance.completed_at),
        "impact": MAINTENANCE_IMPACT,
        "shortlink": f"{page_url()}#{maintenance_id}",
        "started_at": _time(maintenance.started_at or maintenance.scheduled_for),
        "page_id": settings.STATUS_PAGE_ID,
        "incident_updates": [
            _update_json(u, maintenance_id, affected=False) for u in maintenance.updates.all()
        ],
        "components": [
            component_json(components[c.pk], position=position)
            for position, c in enumerate(maintenance.components.all(), start=1)
            if c.pk in components
        ],
        "scheduled_for": _time(maintenance.scheduled_for),
        "scheduled_until": _time(maintenance.scheduled_until),
    }


def status_json(components, open_incidents) -> dict:
    indicator = selectors.page_indicator(components, open_incidents)
    return {"indicator": indicator, "description": Indicator(indicator).label}


# --- the endpoints --------------------------------------------------------------------------------


def _answer(body: dict) -> JsonResponse:
    """Readable by any site's widget (Statuspage's API answers any origin too)."""
    response = JsonResponse({"page": page_json()} | body)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _by_id(components) -> dict:
    return {c.pk: c for c in components}


@require_GET
@cache.cached("summary")
def summary(request):
    components = selectors.public_components()
    incidents = selectors.unresolved_incidents()
    by_id = _by_id(components)
    return _answer(
        {
            "components": components_json(components),
            "incidents": [incident_json(i, by_id) for i in incidents],
            "scheduled_maintenances": [
                maintenance_json(m, by_id) for m in selectors.open_maintenances()
            ],
            "status": status_json(components, incidents),
        }
    )


@require_GET
@cache.cached("status")
def status(request):
    components = selectors.public_components()
    return _answer({"status": status_json(components, selectors.unresolved_incidents())})


@require_GET
@cache.cached("components")
def components(request):
    return _answer({"components": components_json(selectors.public_components())})


def _incidents_view(name, read):
    @require_GET
    @cache.cached(name)
    def view(request):
        by_id = _by_id(selectors.public_components())
        return _answer({"incidents": [incident_json(i, by_id) for i in read()]})

    return view


def _maintenances_view(name, read):
    @require_GET
    @cache.cached(name)
    def view(request):
        by_id = _by_id(selectors.public_components())
        return _answer({"scheduled_maintenances": [maintenance_json(m, by_id) for m in read()]})

    return view


incidents = _incidents_view("incidents", selectors.recent_incidents)
unresolved_incidents = _incidents_view("incidents-unresolved", selectors.unresolved_incidents)
scheduled_maintenances = _maintenances_view("maintenances", selectors.recent_maintenances)
upcoming_maintenances = _maintenances_view("maintenances-upcoming", selectors.upcoming_maintenances)
active_maintenances = _maintenances_view("maintenances-active", selectors.active_maintenances)
