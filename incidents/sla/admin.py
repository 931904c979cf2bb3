"""The admin's SLA pages: policies with their targets (and a "Load preset…" button), business
calendars with their hours and holidays, and every incident's timers and fired deadlines
(read-only: the services and the clock write them)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from incidents.models import (
    BusinessCalendar,
    Holiday,
    SlaDeadline,
    SlaPolicy,
    SlaTarget,
    SlaTimer,
    WorkingHours,
)
from incidents.sla import services as sla
from incidents.sla.presets import PRESETS, load_preset


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by whoever may view; written only by the code that owns the records."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- calendars -----------------------------------------------------------------------------------


class WorkingHoursFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not kept:
            raise ValidationError("A calendar needs at least one working interval.")


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (WorkingHoursInline, HolidayInline)


# --- policies ------------------------------------------------------------------------------------


class SlaTargetFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        business = any(
            f.cleaned_data.get("business_time")
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        )
        if business and self.instance.calendar_id is None:
            raise ValidationError("Targets in business time need the policy's calendar.")


class SlaTargetInline(admin.TabularInline):
    model = SlaTarget
    formset = SlaTargetFormSet
    fields = ("priority", "kind", "duration", "business_time")
    extra = 0


class LoadPresetForm(forms.Form):
    preset = forms.ChoiceField(
        choices=[(slug, f"{preset.name} ({slug})") for slug, preset in PRESETS.items()]
    )
    make_default = forms.BooleanField(
        required=False, label="Make it the default policy", initial=True
    )


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_default", "warning_percent", "pause_on_hold", "calendar")
    list_select_related = ("calendar",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (SlaTargetInline,)
    change_list_template = "admin/incidents/slapolicy/change_list.html"

    def save_model(self, request, obj, form, change):
        """Made the default here, the policy takes the flag from the old default."""
        sla.sla_policy_save(policy=obj)

    def get_urls(self):
        load = path(
            "load-preset/",
            self.admin_site.admin_view(self.load_preset_view),
            name="incidents_slapolicy_load_preset",
        )
        return [load, *super().get_urls()]

    def load_preset_view(self, request):
        """Create or update a preset's policy, as `manage.py load_sla_preset` does."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = LoadPresetForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            policy = load_preset(
                form.cleaned_data["preset"], make_default=form.cleaned_data["make_default"]
            )
            role = " It is the default policy." if policy.is_default else ""
            self.message_user(request, f"Loaded {policy.name}.{role}", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:incidents_slapolicy_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Load an SLA preset",
            "opts": self.opts,
            "form": form,
            "presets": PRESETS.values(),
        }
        return render(request, "admin/incidents/slapolicy/load_preset.html", context)


# --- timers and deadlines ------------------------------------------------------------------------


class SlaDeadlineInline(admin.TabularInline):
    model = SlaDeadline
    fields = ("kind", "due_at", "recorded_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SlaTimer)
class SlaTimerAdmin(ReadOnlyAdmin):
    list_display = (
        "incident_number",
        "kind",
        "state",
        "started_at",
        "warn_at",
        "target_at",
        "warned_at",
        "breached_at",
        "stopped_at",
    )
    list_filter = ("state", "kind")
    list_select_related = ("incident",)
    search_fields = ("=incident__number",)
    search_help_text = "An incident number, e.g. INC0001234."
    date_hierarchy = "target_at"
    inlines = (SlaDeadlineInline,)

    @admin.display(description="incident", ordering="incident__number")
    def incident_number(self, timer):
        return timer.incident.number


@admin.register(SlaDeadline)
class SlaDeadlineAdmin(ReadOnlyAdmin):
    list_display = ("incident_number", "timer_kind", "kind", "due_at", "recorded_at", "lateness")
    list_filter = ("kind", "timer__kind")
    list_select_related = ("timer__incident",)
    search_fields = ("=timer__incident__number",)
    search_help_text = "An incident number, e.g. INC0001234."

    @admin.display(description="incident", ordering="timer__incident__number")
    def incident_number(self, deadline):
        return deadline.timer.incident.number

    @admin.display(description="timer", ordering="timer__kind")
    def timer_kind(self, deadline):
        return deadline.timer.get_kind_display()

    @admin.display(description="recorded after")
    def lateness(self, deadline):
        """How long after it fell due the clock wrote it."""
        return f"{(deadline.recorded_at - deadline.due_at).total_seconds():.1f} s"
