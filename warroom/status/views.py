"""The public status page at /status/: no sign-in, no JavaScript, no internal data
(docs/status-page.md). The Statuspage-compatible JSON is in statuspage.py, the feeds in
feeds.py."""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET

from warroom.status import selectors


@require_GET
def status_page(request):
    page = selectors.status_page()
    context = {"page": page, "page_name": settings.STATUS_PAGE_NAME}
    return render(request, "warroom/status/page.html", context)
