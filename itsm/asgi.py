"""ASGI entry point: HTTP through Django, websockets through Channels (routes added by apps)."""

import os
import warnings

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the whole (synchronous) middleware chain and view run in
    one hop to the request's worker thread.

    Every view and middleware of the portal is synchronous. The stock handler builds an async
    middleware chain and crosses between the event loop and the thread once per middleware
    hook, about thirty switches a request; measured under uvicorn that tripled the cost of a
    request that does nothing (docs/benchmarks.md). Websockets do not pass through here.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


# WhiteNoise in a synchronous chain hands static files over as synchronous iterators, which
# Django then reads in its thread pool; correct, and small files, so the warning is noise.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)


def _django_http_app():
    import django
    from django.urls import resolve

    django.setup(set_prefix=False)
    handler = OneHopASGIHandler()
    # The URL configuration, and with it every view, imported now: else the first request
    # imports it while the requests that arrive meanwhile wait on the import lock.
    resolve("/healthz/live")
    return handler


django_asgi_app = _django_http_app()

# Imported once Django is set up: the consumers import models.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: E402

import incidents.routing  # noqa: E402
import postmortems.routing  # noqa: E402
import warroom.routing  # noqa: E402
from itsm.consumers import NotificationsConsumer  # noqa: E402
from itsm.origins import PortalOriginValidator  # noqa: E402
from itsm.twofactor import VerifiedSessionMiddleware  # noqa: E402

websocket_urlpatterns = [
    re_path(r"^ws/notifications/$", NotificationsConsumer.as_asgi()),
    *incidents.routing.websocket_urlpatterns,
    *warroom.routing.websocket_urlpatterns,
    *postmortems.routing.websocket_urlpatterns,
]

# The client address and scheme come from X-Forwarded-For and X-Forwarded-Proto only when the
# connection comes from a configured proxy (FORWARDED_ALLOW_IPS), whatever the ASGI server.
application = ProxyHeadersMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": PortalOriginValidator(
                AuthMiddlewareStack(VerifiedSessionMiddleware(URLRouter(websocket_urlpatterns)))
            ),
        }
    ),
    trusted_hosts=settings.FORWARDED_ALLOW_IPS,
)
