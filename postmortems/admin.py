"""The Django admin of the post-incident reviews.

Action items are written through postmortems/action_items.py, as the incident admin writes
through its services: the add form creates with `action_item_create`, the change form changes
the fields that differ with `action_item_update`; history is shown, never reverted; nothing is
deleted (an item not to be done is "won't do", with its reason)."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.admin import ServiceWrittenAdmin, load_saved
from incidents.choices import ChangeSource
from postmortems.action_items import EDITABLE_FIELDS, action_item_create, action_item_update
from postmortems.models import ActionItem
from postmortems.models.action_items import (
    ADD_ACTION_ITEM,
    CHANGE_ACTION_ITEM,
    WONT_DO_REASON_MAX_LENGTH,
)
from postmortems.selectors import overdue_condition

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


# --- end of action items -------------------------------------------------------------------------
