"""Bodies of the customer and credit-statement API. The contract's rules (tier order, the
target) are checked by postmortems/credits/services.py, which answers 400 naming the field."""

from decimal import Decimal

from rest_framework import serializers

from incidents.choices import Priority
from incidents.models import Service
from itsm.api.fields import TextLookupField
from itsm.api.serializers import StrictModelSerializer, StrictSerializer
from postmortems.credits.choices import MeasurementPeriod
from postmortems.models import CreditStatement, Customer
from postmortems.models.credits import CONTRACT_FIELDS, FROZEN_FIELDS
from warroom.api.serializers import PersonSerializer


def _percent(places: int, digits: int, **kwargs):
    return serializers.DecimalField(
        max_digits=digits,
        decimal_places=places,
        min_value=Decimal(0),
        max_value=Decimal(100),
        **kwargs,
    )


class TierSerializer(StrictSerializer):
    below = _percent(4, 7, help_text="Availability below this percent earns the credit.")
    credit_percent = _percent(2, 5, help_text="Percent of the monthly fee credited.")


class CustomerSerializer(StrictModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    tiers = TierSerializer(many=True, help_text="Thresholds descending, credits ascending.")
    outage_priorities = serializers.ListField(child=serializers.ChoiceField(Priority.choices))

    class Meta:
        model = Customer
        fields = ["id", "name", "active", "services", *CONTRACT_FIELDS, "tiers", "created_at"]
        read_only_fields = fields


class CustomerWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    active = serializers.BooleanField(default=True)
    services = serializers.ListField(
        child=TextLookupField(slug_field="slug", queryset=Service.objects.all()),
        help_text="Slugs of the services the customer uses.",
    )
    availability_target = _percent(4, 7, help_text="Percent, e.g. 99.95.")
    measurement_period = serializers.ChoiceField(
        MeasurementPeriod.choices, default=MeasurementPeriod.MONTHLY
    )
    outage_priorities = serializers.ListField(
        child=serializers.ChoiceField(Priority.choices),
        allow_empty=False,
        required=False,
        help_text="The incident priorities counted as outage; P1 and P2 unless given.",
    )
    tiers = TierSerializer(many=True, help_text="Thresholds descending, credits ascending.")
    monthly_fee = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0))
    currency = serializers.CharField(max_length=3, default="USD", help_text="ISO 4217.")


class CountedIncidentSerializer(StrictSerializer):
    number = serializers.CharField()
    priority = serializers.ChoiceField(Priority.choices)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(
        allow_null=True, help_text="Mitigated, else resolved; null: still open when computed."
    )
    counted_from = serializers.DateTimeField(help_text="The window clipped to the month.")
    counted_until = serializers.DateTimeField()
    seconds = serializers.IntegerField(help_text="The clipped window, before overlaps merge.")


class AppliedContractSerializer(StrictSerializer):
    outage_priorities = serializers.ListField(child=serializers.ChoiceField(Priority.choices))
    tiers = TierSerializer(many=True)


class StatementSerializer(StrictModelSerializer):
    customer = serializers.IntegerField(source="customer_id")
    customer_name = serializers.CharField(source="customer.name")
    month = serializers.SerializerMethodField(help_text="The month measured, YYYY-MM.")
    current = serializers.BooleanField(
        source="is_current", help_text="False once a later revision superseded it."
    )
    contract = AppliedContractSerializer()
    incidents = CountedIncidentSerializer(many=True)
    approved_by = PersonSerializer(allow_null=True)

    class Meta:
        model = CreditStatement
        fields = [
            "id",
            "customer",
            "customer_name",
            "month",
            "revision",
            "status",
            "current",
            "period_start",
            "period_end",
            *FROZEN_FIELDS,
            "computed_at",
            "approved_by",
            "approved_at",
            "superseded_at",
        ]
        read_only_fields = fields

    def get_month(self, statement) -> str:
        return f"{statement.month:%Y-%m}"
