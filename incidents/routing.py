"""The incident pages' websocket routes (itsm.asgi mounts them)."""

from django.urls import re_path

from incidents.consumers import IncidentsConsumer

websocket_urlpatterns = [
    re_path(r"^ws/incidents/$", IncidentsConsumer.as_asgi()),
    re_path(r"^ws/incidents/(?P<number>INC[0-9]{7})/$", IncidentsConsumer.as_asgi()),
]
