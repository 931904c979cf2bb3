"""The admin's on-call and escalation pages: schedules with their rotations, each rotation with
its members in turn order, overrides, escalation policies with their levels, and every
incident's escalation steps (read-only: the clock fires them)."""

from django import forms
from django.contrib import admin
from django.utils import timezone

from incidents.choices import Priority
from incidents.models import (
    EscalationLevel,
    EscalationPolicy,
    EscalationStep,
    Rotation,
    RotationMember,
    Schedule,
    ScheduleOverride,
)
from incidents.oncall.services import MIN_SHIFT_LENGTH, oncall_entry
from itsm.admin_mixins import ReadOnlyRecords


class RotationForm(forms.ModelForm):
    def clean_shift_length(self):
        shift_length = self.cleaned_data["shift_length"]
        if shift_length < MIN_SHIFT_LENGTH:
            raise forms.ValidationError(f"A shift lasts at least {MIN_SHIFT_LENGTH}.")
        return shift_length


class RotationInline(admin.TabularInline):
    model = Rotation
    form = RotationForm
    extra = 0
    fields = ("name", "layer", "handoff_at", "shift_length", "ends_at")
    show_change_link = True
    verbose_name_plural = "rotations (open one to set its members and their turn order)"


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "team", "time_zone", "on_call_now")
    list_select_related = ("team",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (RotationInline,)

    @admin.display(description="on call now")
    def on_call_now(self, schedule):
        entry = oncall_entry(schedule=schedule, at=timezone.now())
        return f"{entry.user.get_username()} ({entry.source})" if entry else "nobody"


class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 1
    fields = ("position", "user")
    autocomplete_fields = ("user",)


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    form = RotationForm
    list_display = ("name", "schedule", "layer", "handoff_at", "shift_length", "ends_at")
    list_filter = ("schedule",)
    list_select_related = ("schedule",)
    inlines = (RotationMemberInline,)


@admin.register(ScheduleOverride)
class ScheduleOverrideAdmin(admin.ModelAdmin):
    list_display = (
        "schedule",
        "user",
        "starts_at",
        "ends_at",
        "reason",
        "created_at",
        "created_by",
    )
    list_filter = ("schedule",)
    list_select_related = ("schedule", "user", "created_by")
    date_hierarchy = "starts_at"
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "created_by")

    def save_model(self, request, obj, form, change):
        """An override set up here names who set it up, as the portal's and the API's do."""
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class EscalationLevelForm(forms.ModelForm):
    priorities = forms.MultipleChoiceField(
        choices=Priority.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only for these priorities; none ticked: every priority.",
    )


class EscalationLevelInline(admin.StackedInline):
    model = EscalationLevel
    form = EscalationLevelForm
    extra = 0
    fields = (
        ("position", "name", "delay"),
        "priorities",
        "target_schedules",
        "target_users",
        "target_teams",
    )
    filter_horizontal = ("target_users", "target_teams", "target_schedules")


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_default", "repeat_count")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (EscalationLevelInline,)


@admin.register(EscalationStep)
class EscalationStepAdmin(ReadOnlyRecords, admin.ModelAdmin):
    list_display = ("incident", "level", "round", "due_at", "fired_at", "cancelled_at", "paged")
    list_select_related = ("incident", "level__policy")
    list_filter = (
        ("fired_at", admin.EmptyFieldListFilter),
        ("cancelled_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("=incident__number",)
    date_hierarchy = "due_at"
