"""The notifications page: the signed-in user's in-app notifications, newest first, and
marking them read."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from itsm.notifications import inbox, notification_mark_read, notifications_mark_all_read


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
    paginator = Paginator(inbox(user=request.user), settings.PORTAL_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "itsm/notifications.html", {"page": page})


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
