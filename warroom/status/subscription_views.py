"""The status page's subscription pages: subscribe (the form on /status/), confirm and
unsubscribe. Public: no sign-in, no JavaScript. They are CSRF-exempt: there is no session to
ride, anyone may post the form for any address, and a mail client's RFC 8058 one-click
unsubscribe POST carries no token; the link's secret is what authorises."""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from itsm.errors import ValidationFailed
from warroom.status import selectors, subscriptions
from warroom.status.views import page_html

PAGE = "warroom/status/subscription.html"


@csrf_exempt
@require_POST
def subscribe(request):
    """Bad input shows the status page again with the form's errors (400), nothing written.
    Success looks the same whether or not an email went out (no probing of addresses)."""
    email = request.POST.get("email", "")
    slugs = request.POST.getlist("components")
    try:
        subscriptions.subscriber_subscribe(email=email, component_slugs=slugs)
    except ValidationFailed as error:
        subscribe = {"email": email, "components": slugs, "errors": error.fields}
        html = page_html(selectors.status_page(), subscribe=subscribe)
        return HttpResponse(html, status=400)
    return _page(request, "check-inbox", email=email)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """GET shows a button (so that a link scanner confirms nothing); POST confirms."""
    return _by_button(request, token, subscriptions.subscriber_confirm, ("confirm", "confirmed"))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET shows a button; POST (the button, or a mail client's one-click) unsubscribes."""
    steps = ("unsubscribe", "unsubscribed")
    return _by_button(request, token, subscriptions.subscriber_unsubscribe, steps)


def _by_button(request, token, act, steps):
    """The link's page: its button on GET; on POST, `act` done and its outcome. 404 for a
    wrong token."""
    subscriber = _subscriber(token)
    ask, done = steps
    if request.method == "POST":
        act(subscriber=subscriber)
        return _page(request, done)
    return _page(request, ask, token=token)


def _subscriber(token):
    subscriber = subscriptions.subscriber_by_token(token)
    if subscriber is None:
        raise Http404("No such subscription.")
    return subscriber


def _page(request, step, **context):
    context.update(step=step, page_name=settings.STATUS_PAGE_NAME)
    return render(request, PAGE, context)
