"""`/favicon.ico`, which browsers ask for whatever a page links (feed readers, the admin's
older pages, a bookmark): a redirect to the portal's SVG icon rather than a 404."""

from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

ICON = "img/favicon.svg"


@require_safe
@cache_control(public=True, max_age=24 * 60 * 60)
def favicon(request):
    return redirect(static(ICON), permanent=True)
