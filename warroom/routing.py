"""The war room's websocket route (itsm.asgi mounts it)."""

from django.urls import re_path

from warroom.consumers import WarRoomConsumer
from warroom.models import NUMBER_PATTERN

websocket_urlpatterns = [
    re_path(rf"^ws/warroom/(?P<number>{NUMBER_PATTERN})/$", WarRoomConsumer.as_asgi()),
]
