"""One API path, with or without its trailing slash.

The routes end in "/", yet the reference documents (and many clients) write them without:
`POST /api/major-incidents`. Django's APPEND_SLASH answers that with a redirect, which a POST
cannot follow (in DEBUG it is even a RuntimeError). So under /api/ a path that names no route
is served by the route its other spelling names, for every method, as if it had been written
that way: same status, same body, no redirect.
"""

from django.urls import get_urlconf, is_valid_path

API_ROOT = "/api"


def is_api_path(path: str) -> bool:
    return path == API_ROOT or path.startswith(API_ROOT + "/")


def other_spelling(path: str) -> str:
    """The path with its trailing slash added, or taken away."""
    return path[:-1] if path.endswith("/") else path + "/"


class ApiTrailingSlashMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if is_api_path(path) and not is_valid_path(path, get_urlconf()):
            other = other_spelling(path)
            if is_valid_path(other, get_urlconf()):
                request.path = request.path[: len(request.path) - len(path)] + other
                request.path_info = other
        return self.get_response(request)
