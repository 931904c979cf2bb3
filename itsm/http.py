"""Request-method rules of the portal's pages (not the API's: it answers 405 in JSON)."""

from functools import wraps

from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect


def post_only(page: str, *arguments: str):
    """For a portal view that only takes a form's POST: a GET or HEAD (a link followed, a
    reload, an address typed or bookmarked) is sent to `page`, the URL name of the page the
    form is on, reversed with the view's keyword `arguments` named, instead of a blank 405.
    Other methods are still refused with a 405."""

    def decorate(view):
        @wraps(view)
        def post_or_redirect(request, *args, **kwargs):
            if request.method in ("GET", "HEAD"):
                return redirect(page, **{name: kwargs[name] for name in arguments})
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return view(request, *args, **kwargs)

        return post_or_redirect

    return decorate
