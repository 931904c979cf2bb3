"""The admin of post-incident reviews: the review policy (one row per priority and one for
major incidents, created by the migration) and the reviews themselves.

A review's sections and owner are edited through `review_update`; its state, the generated
facts, timeline and proposed action items are shown read-only (they change through the
services, the portal and the API). Reviews are created by the job or by `review_create`, never
added or deleted here.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model

from incidents.admin import HistoryAdmin, ServiceWrittenAdmin, load_saved
from incidents.choices import ChangeSource
from postmortems import services
from postmortems.models import SECTIONS, PostIncidentReview, ReviewPolicy


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
        ("Document (Markdown)", {"fields": (*SECTIONS, "public_summary")}),
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
        if "public_summary" in changed:
            extra["public_summary"] = form.cleaned_data["public_summary"]
        saved = services.review_update(
            review=obj,
            actor=request.user,
            source=ChangeSource.ADMIN,
            sections={name: form.cleaned_data[name] for name in SECTIONS if name in changed},
            **extra,
        )
        load_saved(obj, saved)
