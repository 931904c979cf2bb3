"""The customer and credit-statement API. Customers (their contracts are commercial) are read
and written by ITSM managers and super admins; statements are read, approved and recomputed by
the same. `GET /api/credits/statements/?format=csv` (or `Accept: text/csv`) answers the
filtered list as CSV."""

import django_filters
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from itsm.api import viewsets
from itsm.api.renderers import CsvRenderer
from itsm.api.serializers import refuse_any_body
from postmortems.credits import selectors, services
from postmortems.credits.choices import StatementStatus
from postmortems.credits.computation import Tier
from postmortems.credits.export import CONTENT_TYPE, csv_filename, statements_csv
from postmortems.credits.serializers import (
    CustomerSerializer,
    CustomerWriteSerializer,
    StatementSerializer,
)
from postmortems.models import CreditStatement
from postmortems.models.credits import (
    ADD_CUSTOMER,
    APPROVE_STATEMENT,
    CHANGE_CUSTOMER,
    RECOMPUTE_STATEMENT,
    VIEW_CUSTOMER,
    VIEW_STATEMENT,
)


def _contract(validated: dict) -> dict:
    """The service's arguments from a validated body: tiers as `Tier`s."""
    if "tiers" in validated:
        validated["tiers"] = [
            Tier(row["below"], row["credit_percent"]) for row in validated["tiers"]
        ]
    return validated


@extend_schema_view(
    list=extend_schema(summary="List customers with their contracts"),
    retrieve=extend_schema(summary="One customer with its contract"),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"
    serializer_class = CustomerSerializer
    action_permissions = {
        "list": VIEW_CUSTOMER,
        "retrieve": VIEW_CUSTOMER,
        "create": ADD_CUSTOMER,
        "partial_update": CHANGE_CUSTOMER,
    }

    def get_queryset(self):
        return selectors.customer_queryset()

    def _answer(self, pk: int, status_code=status.HTTP_200_OK):
        customer = selectors.customer_queryset().get(pk=pk)
        return Response(CustomerSerializer(customer).data, status=status_code)

    @extend_schema(
        request=CustomerWriteSerializer,
        responses={201: CustomerSerializer},
        summary="Add a customer with its contract and credit tiers",
    )
    def create(self, request):
        body = CustomerWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = services.customer_create(actor=request.user, **_contract(body.validated_data))
        return self._answer(customer.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=CustomerWriteSerializer,
        responses={200: CustomerSerializer},
        summary="Change a customer; `tiers`, when given, replace its tiers",
    )
    def partial_update(self, request, pk=None):
        customer = self.get_object()
        body = CustomerWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.customer_update(
            customer=customer, actor=request.user, **_contract(body.validated_data)
        )
        return self._answer(customer.pk)


class StatementFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(
        field_name="customer_id", label="Customer id", min_value=1, max_value=2**63 - 1
    )
    month = django_filters.DateFilter(input_formats=["%Y-%m"], label="Month, YYYY-MM")
    status = django_filters.ChoiceFilter(choices=StatementStatus.choices)
    current = django_filters.BooleanFilter(
        field_name="superseded_at", lookup_expr="isnull", label="Current revisions only (true)"
    )

    class Meta:
        model = CreditStatement
        fields = ["customer", "month", "status", "current"]


@extend_schema_view(
    list=extend_schema(
        summary="List credit statements, the latest month first; CSV with ?format=csv",
        responses={
            200: StatementSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The list as CSV"),
        },
    ),
    retrieve=extend_schema(summary="One credit statement revision"),
)
class StatementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"
    serializer_class = StatementSerializer
    filterset_class = StatementFilter
    action_permissions = {
        "list": VIEW_STATEMENT,
        "retrieve": VIEW_STATEMENT,
        "approve": APPROVE_STATEMENT,
        "recompute": RECOMPUTE_STATEMENT,
    }

    def get_queryset(self):
        return selectors.statement_queryset()

    def get_renderers(self):
        renderers = super().get_renderers()
        return [*renderers, CsvRenderer()] if self.action == "list" else renderers

    def filter_queryset(self, queryset):
        """The filters apply to the list only."""
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def list(self, request, *args, **kwargs):
        if request.accepted_renderer.format != CsvRenderer.format:
            return super().list(request, *args, **kwargs)
        text = statements_csv(self.filter_queryset(self.get_queryset()))
        headers = {"Content-Disposition": csv_filename(timezone.now())}
        return Response(text, headers=headers, content_type=CONTENT_TYPE)

    def _answer(self, statement: CreditStatement):
        statement = selectors.statement_queryset().get(pk=statement.pk)
        return Response(StatementSerializer(statement).data)

    @extend_schema(
        request=None,
        responses={200: StatementSerializer},
        summary="Approve the current draft revision (409 if approved or superseded)",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        refuse_any_body(request)
        statement = services.credit_statement_approve(
            statement=self.get_object(), actor=request.user
        )
        return self._answer(statement)

    @extend_schema(
        request=None,
        responses={200: StatementSerializer},
        summary="Recompute the month: the current revision, a new one if the figures changed",
    )
    @action(detail=True, methods=["post"])
    def recompute(self, request, pk=None):
        refuse_any_body(request)
        statement = services.credit_statement_recompute(
            statement=self.get_object(), actor=request.user
        )
        return self._answer(statement)
