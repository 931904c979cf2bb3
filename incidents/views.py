"""Staff portal views (placeholder until the portal lands)."""

from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse("portal coming")


dashboard = incident_list = incident_create = incident_detail = _todo
incident_transition = incident_note = incident_checklist = incident_priority = _todo
