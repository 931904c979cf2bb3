"""The portal's own middleware: the Permissions-Policy header, and the two-factor step a
password sign-in still owes."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

from itsm.api.slashes import is_api_path
from itsm.twofactor import Step, pending_step

# The page of each step, and the pages a session owing it may still see.
STEP_PAGES = {Step.CODE: "two-factor-code", Step.ENROL: "two-factor"}
ALWAYS_ALLOWED = {"logout"}
# Under /api/ but a page for people; everything else there is left to the API's own
# authentication, which refuses such a session in the API's error shape.
API_PAGES = {"api-docs"}


def permissions_policy(features: dict[str, list[str]]) -> str:
    """`{"camera": [], "fullscreen": ["self"]}` as `camera=(), fullscreen=(self)`."""
    return ", ".join(f"{name}=({' '.join(allowed)})" for name, allowed in features.items())


class PermissionsPolicyMiddleware:
    """Sends settings.PERMISSIONS_POLICY on every answer that does not set its own."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = permissions_policy(settings.PERMISSIONS_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.header)
        return response


class TwoFactorMiddleware:
    """Sends a session that still owes its second factor to that step's page, from every page
    of the portal and the admin, until it is done."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        step = pending_step(request.session)
        if step is None:
            return None
        name = request.resolver_match.url_name
        if name == STEP_PAGES[step] or name in ALWAYS_ALLOWED:
            return None
        if is_api_path(request.path_info) and name not in API_PAGES:
            return None
        return redirect_to_login(request.get_full_path(), STEP_PAGES[step])
