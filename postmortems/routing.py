"""The review page's websocket route (itsm.asgi mounts it)."""

from django.urls import re_path

from postmortems.consumers import ReviewConsumer

websocket_urlpatterns = [
    re_path(r"^ws/postmortems/(?P<number>INC[0-9]{7})/$", ReviewConsumer.as_asgi()),
]
