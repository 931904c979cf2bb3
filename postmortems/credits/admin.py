"""The admin of customers (their contract, with the credit tiers inline, checked as the API
checks them) and of the credit statements: read-only, with approve, recompute and CSV actions
that go through postmortems/credits/services.py."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone

from itsm.admin_mixins import ReadOnlyRecords, RefusesMalformedLists
from itsm.errors import ApplicationError
from postmortems.credits import services
from postmortems.credits.computation import Tier, tier_problems
from postmortems.credits.export import CONTENT_TYPE, csv_filename, statements_csv
from postmortems.models import CreditStatement, CreditTier, Customer
from postmortems.models.credits import APPROVE_STATEMENT, CONTRACT_FIELDS, RECOMPUTE_STATEMENT


class TierFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """The tiers kept, deepest last, must have descending thresholds, ascending credits,
        none above the target."""
        super().clean()
        if any(self.errors):
            return
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        tiers = sorted(
            (Tier(row["below"], row["credit_percent"]) for row in kept),
            key=lambda tier: tier.below,
            reverse=True,
        )
        problems = tier_problems(tiers, self.instance.availability_target)
        if problems:
            raise forms.ValidationError(problems)


class CreditTierInline(admin.TabularInline):
    model = CreditTier
    formset = TierFormSet
    extra = 1
    fields = ("below", "credit_percent")


@admin.register(Customer)
class CustomerAdmin(RefusesMalformedLists, admin.ModelAdmin):
    list_display = ("name", "active", "availability_target", "monthly_fee", "currency")
    list_filter = ("active",)
    search_fields = ("name",)
    filter_horizontal = ("services",)
    inlines = [CreditTierInline]
    fields = ("name", "active", "services", *CONTRACT_FIELDS)


def _each(modeladmin, request, queryset, write, done: str) -> None:
    """Run `write(statement)` for each selected statement; say how many succeeded and why
    each other one was refused."""
    succeeded = 0
    for statement in queryset:
        try:
            write(statement)
        except ApplicationError as error:
            modeladmin.message_user(request, f"{statement}: {error.message}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} statement(s) {done}.", messages.SUCCESS)


@admin.register(CreditStatement)
class CreditStatementAdmin(ReadOnlyRecords, RefusesMalformedLists, admin.ModelAdmin):
    list_display = (
        "customer",
        "month",
        "revision",
        "status",
        "is_current",
        "availability",
        "breached",
        "credit_percent",
        "credit_amount",
        "currency",
        "approved_by",
    )
    list_filter = ("status", "breached", "month", "customer")
    list_select_related = ("customer", "approved_by")
    actions = ["approve", "recompute", "export_csv"]

    @admin.display(boolean=True, description="Current")
    def is_current(self, statement):
        return statement.is_current

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_STATEMENT)

    def has_recompute_permission(self, request):
        return request.user.has_perm(RECOMPUTE_STATEMENT)

    @admin.action(permissions=["approve"], description="Approve the selected draft statements")
    def approve(self, request, queryset):
        def write(statement):
            services.credit_statement_approve(statement=statement, actor=request.user)

        _each(self, request, queryset, write, "approved")

    @admin.action(permissions=["recompute"], description="Recompute the selected statements")
    def recompute(self, request, queryset):
        def write(statement):
            services.credit_statement_recompute(statement=statement, actor=request.user)

        _each(self, request, queryset, write, "recomputed (a new revision where it changed)")

    @admin.action(permissions=["view"], description="Export the selected statements as CSV")
    def export_csv(self, request, queryset):
        text = statements_csv(queryset.select_related("customer", "approved_by"))
        response = HttpResponse(text, content_type=CONTENT_TYPE)
        response["Content-Disposition"] = csv_filename(timezone.now())
        return response
