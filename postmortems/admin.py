"""The admin of post-incident reviews and their action items.

The review policy has one row per priority and one for major incidents (created by the
migration). A review's sections and owner are edited through `review_update`; its state, the
generated facts, timeline and proposed action items are shown read-only (they change through
the services). Reviews are created by the job or by `review_create`, never added or deleted here.

Action items are written through postmortems/action_items.py: the add form creates with
`action_item_create`, the change form changes the fields that differ with
`action_item_update`; history is shown, never reverted; nothing is deleted (an item not to be
done is "won't do", with its reason).
"""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.admin import HistoryAdmin, ServiceWrittenAdmin, load_saved
from incidents.choices import ChangeSource
from postmortems import services
from postmortems.action_items import EDITABLE_FIELDS, action_item_create, action_item_update
from postmortems.models import (
    SECTIONS,
    ActionItem,
    MetricTarget,
    PostIncidentReview,
    ReviewPolicy,
)
from postmortems.models.action_items import (
    ADD_ACTION_ITEM,
    CHANGE_ACTION_ITEM,
    WONT_DO_REASON_MAX_LENGTH,
)
from postmortems.selectors import overdue_condition


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(HistoryAdmin):
    list_display = ("scope", "required", "due_after")
    fields = ("scope", "required", "due_after")
    readonly_fields = ("scope",)
    history_list_display = ("required", "due_after")

    def has_add_permission(self, request):
        """One row per scope, from the migration."""
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(ServiceWrittenAdmin):
    list_display = ("incident", "status", "required", "owner", "due_at", "created_at")
    list_filter = ("status", "required", "incident__priority")
    list_select_related = ("incident", "owner")
    search_fields = ("incident__number", "incident__title")
    date_hierarchy = "due_at"
    generated = ("facts", "timeline", "proposed_action_items")
    state = (
        "incident",
        "status",
        "required",
        "due_at",
        "created_at",
        "submitted_at",
        "published_at",
        "skip_reason",
        "return_reason",
    )
    fieldsets = (
        (None, {"fields": (*state, "owner")}),
        ("Document (Markdown)", {"fields": (*SECTIONS, "public_summary", "revenue_impact")}),
        ("Generated from the record", {"fields": generated}),
    )
    readonly_fields = (*state, *generated)
    history_list_display = ("status", "owner")

    def has_add_permission(self, request):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        changed = set(form.changed_data)
        extra = {"owner": form.cleaned_data["owner"]} if "owner" in changed else {}
        for name in ("public_summary", "revenue_impact"):
            if name in changed:
                extra[name] = form.cleaned_data[name]
        saved = services.review_update(
            review=obj,
            actor=request.user,
            source=ChangeSource.ADMIN,
            sections={name: form.cleaned_data[name] for name in SECTIONS if name in changed},
            **extra,
        )
        load_saved(obj, saved)


ADMIN = ChangeSource.ADMIN

# --- action items --------------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        overdue = overdue_condition(timezone.localdate())
        if self.value() == "yes":
            return queryset.filter(overdue)
        if self.value() == "no":
            return queryset.exclude(overdue)
        return queryset


ADD_FIELDS = (
    "incident",
    "title",
    "description",
    "priority",
    "type",
    "owner",
    "due_date",
    "tracker_url",
    "tracker_key",
)
RECORD_FIELDS = ("created_by", "created_at", "completed_at")


@admin.register(ActionItem)
class ActionItemAdmin(ServiceWrittenAdmin):
    list_display = ("title", "incident", "owner", "priority", "type", "status", "due_date")
    list_filter = ("status", "priority", "type", OverdueFilter)
    list_select_related = ("incident", "owner")
    search_fields = ("=incident__number", "title", "=tracker_key", "owner__username")
    search_help_text = "An incident number, a tracker key, an owner's username, or title words."
    date_hierarchy = "due_date"
    history_list_display = ("status", "owner", "due_date")
    raw_id_fields = ("incident",)

    def has_add_permission(self, request):
        return request.user.has_perm(ADD_ACTION_ITEM)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(CHANGE_ACTION_ITEM)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ADD_FIELDS
        return ("incident", *EDITABLE_FIELDS, *RECORD_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return ("incident", *RECORD_FIELDS) if obj else ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "wont_do_reason":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2})
            kwargs["max_length"] = WONT_DO_REASON_MAX_LENGTH
        if db_field.name == "tracker_url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = (
                get_user_model().objects.filter(is_active=True).order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            saved = action_item_update(item=obj, actor=request.user, source=ADMIN, **changes)
        else:
            saved = action_item_create(actor=request.user, source=ADMIN, **form.cleaned_data)
        load_saved(obj, saved)


@admin.register(MetricTarget)
class MetricTargetAdmin(HistoryAdmin):
    """The reports' targets, one row per metric from the migration: only the figure and its
    direction change (seconds for durations, percent for rates, an amount for revenue;
    docs/metrics.md), each change kept in the history."""

    list_display = ("metric", "direction", "value")
    fields = ("metric", "direction", "value")
    readonly_fields = ("metric",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the admin pages of the follow-ups, meetings, customers and credits ----------------------

from postmortems import admin_followups  # noqa: E402, F401  (the follow-ups' and meetings' admin)
from postmortems.credits import admin as credits_admin  # noqa: E402, F401  (customers, credits)
