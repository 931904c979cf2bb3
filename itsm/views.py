"""The notifications page (the signed-in user's in-app notifications, newest first, and
marking them read) and the two-factor pages: the code step of signing in, enrolment, turning
it off."""

from base64 import b32encode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import RedirectURLMixin
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django.views.generic import FormView

from itsm import services
from itsm.choices import AuthEventKind
from itsm.errors import ValidationFailed
from itsm.http import post_only
from itsm.notifications import inbox, notification_mark_read, notifications_mark_all_read
from itsm.twofactor import (
    has_two_factor,
    mark_verified,
    must_have_two_factor,
    pending_step,
    recovery_codes_left,
)


class MarkReadForm(forms.Form):
    """One notification (`notification`), or every one (`all`); `page` is where to return."""

    notification = forms.IntegerField(required=False, min_value=1)
    all = forms.BooleanField(required=False)
    page = forms.IntegerField(required=False, min_value=1)

    def clean(self):
        data = super().clean()
        if not data.get("all") and not data.get("notification"):
            raise forms.ValidationError("Say which notification to mark read.")
        return data


@login_required
@permission_required("itsm.view_notification", raise_exception=True)
@require_http_methods(["GET", "POST"])
def notifications(request):
    if request.method == "POST":
        return _mark_read(request)
    return render(request, "itsm/notifications.html", {"page": _inbox_page(request)})


@login_required
@permission_required("itsm.view_notification", raise_exception=True)
@require_GET
def notifications_live(request):
    """The page's list alone, for static/js/bell.js to swap in when the inbox changes."""
    return render(request, "itsm/live_notifications.html", {"page": _inbox_page(request)})


def _inbox_page(request):
    paginator = Paginator(inbox(user=request.user), settings.PORTAL_PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


def _mark_read(request):
    form = MarkReadForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Say which notification to mark read.")
    now = timezone.now()
    if form.cleaned_data["all"]:
        notifications_mark_all_read(user=request.user, now=now)
    else:
        notification = get_object_or_404(
            inbox(user=request.user), pk=form.cleaned_data["notification"]
        )
        notification_mark_read(notification=notification, now=now)
    page = form.cleaned_data["page"]
    return redirect(reverse("notifications") + (f"?page={page}" if page else ""))


# --- two-factor authentication -------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class TwoFactorCodeView(LoginRequiredMixin, RedirectURLMixin, FormView):
    """The second step of a password sign-in: a code from the authenticator app, or a
    recovery code (used up)."""

    template_name = "registration/two_factor_code.html"
    form_class = CodeForm
    next_page = settings.LOGIN_REDIRECT_URL

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and pending_step(request.session) is None:
            return redirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(next=self.get_redirect_url(), **kwargs)

    def form_valid(self, form):
        try:
            device = services.two_factor_verify(
                user=self.request.user, code=form.cleaned_data["code"]
            )
        except ValidationFailed as error:
            services.auth_event_record(
                kind=AuthEventKind.LOGIN_FAILED,
                request=self.request,
                user=self.request.user,
                detail={"via": "two_factor_code"},
            )
            form.add_error("code", error.message)
            return self.form_invalid(form)
        mark_verified(self.request, device)
        return super().form_valid(form)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Whether two-factor authentication is on; when it is not, enrolment: scan the QR code,
    confirm with a first code, see the recovery codes once."""
    user = request.user
    if has_two_factor(user):
        context = {
            "form": CodeForm(),
            "recovery_codes_left": recovery_codes_left(user),
            "required": must_have_two_factor(user),
        }
        return render(request, "itsm/two_factor.html", context)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        try:
            device, codes = services.two_factor_confirm(user=user, code=form.cleaned_data["code"])
        except ValidationFailed as error:
            form.add_error("code", error.message)
        else:
            mark_verified(request, device)
            return render(request, "itsm/two_factor_recovery_codes.html", {"codes": codes})
    device = services.two_factor_enrol_start(user=user)
    context = {
        "form": form,
        "qr_svg": segno.make(device.config_url, error="m").svg_inline(
            scale=4, svgclass="qr", omitsize=True
        ),
        "secret": b32encode(device.bin_key).decode(),
        "required": must_have_two_factor(user),
    }
    return render(request, "itsm/two_factor_enrol.html", context)


@post_only("two-factor")
@login_required
def two_factor_disable(request):
    if must_have_two_factor(request.user):
        messages.error(request, "Your role requires two-factor authentication: it stays on.")
        return redirect("two-factor")
    form = CodeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationFailed("Enter a current code to turn two-factor authentication off.")
        services.two_factor_disable(user=request.user, code=form.cleaned_data["code"])
    except ValidationFailed as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Two-factor authentication is off.")
    return redirect("two-factor")
