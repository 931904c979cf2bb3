"""Bodies of the action-item API. What a body may hold is checked here, and again (lengths,
who may own an item, the reason of won't do) by postmortems/action_items.py."""

from django.utils import timezone
from rest_framework import serializers

from incidents.api.serializers import UsernameField
from incidents.models import Incident
from itsm.api.fields import TextLookupField
from itsm.api.serializers import StrictModelSerializer, StrictSerializer
from postmortems.action_items import may_own_action_items
from postmortems.choices import ActionItemPriority, ActionItemStatus, ActionItemType
from postmortems.models import ActionItem
from postmortems.models.action_items import (
    ACTION_DESCRIPTION_MAX_LENGTH,
    ACTION_TITLE_MAX_LENGTH,
    TRACKER_KEY_MAX_LENGTH,
    TRACKER_URL_MAX_LENGTH,
    WONT_DO_REASON_MAX_LENGTH,
)
from warroom.api.serializers import PersonSerializer


class OwnerField(UsernameField):
    """The username of someone who may own action items (active staff)."""

    default_error_messages = {
        "does_not_exist": "No active user {value}.",
        "not_staff": "{value} cannot own action items (not active staff).",
    }

    def to_internal_value(self, data):
        user = super().to_internal_value(data)
        if not may_own_action_items(user):
            self.fail("not_staff", value=user.get_username())
        return user


class ActionItemSerializer(StrictModelSerializer):
    incident = serializers.CharField(source="incident.number")
    team = serializers.CharField(source="incident.team.slug", allow_null=True, default=None)
    owner = PersonSerializer()
    created_by = PersonSerializer(allow_null=True)
    overdue = serializers.SerializerMethodField(help_text="Still to do and past its due date.")
    tracker_url = serializers.CharField(help_text="A link to the external tracker, or empty.")

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "incident",
            "team",
            "title",
            "description",
            "priority",
            "type",
            "owner",
            "due_date",
            "status",
            "wont_do_reason",
            "overdue",
            "tracker_url",
            "tracker_key",
            "created_by",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_overdue(self, item) -> bool:
        return item.is_overdue(timezone.localdate())


def _text(max_length: int, **kwargs):
    return serializers.CharField(max_length=max_length, allow_blank=True, **kwargs)


class ActionItemCreateSerializer(StrictSerializer):
    incident = TextLookupField(
        slug_field="number", queryset=Incident.objects.all(), help_text="e.g. INC0001234"
    )
    title = serializers.CharField(max_length=ACTION_TITLE_MAX_LENGTH)
    description = _text(ACTION_DESCRIPTION_MAX_LENGTH, default="")
    owner = OwnerField(help_text="The owner's username.")
    due_date = serializers.DateField()
    priority = serializers.ChoiceField(
        choices=ActionItemPriority.choices, default=ActionItemPriority.P1
    )
    type = serializers.ChoiceField(choices=ActionItemType.choices, default=ActionItemType.PREVENT)
    tracker_url = _text(TRACKER_URL_MAX_LENGTH, default="", help_text="http(s) link, optional.")
    tracker_key = _text(TRACKER_KEY_MAX_LENGTH, default="", help_text="e.g. OPS-123, optional.")


class ActionItemUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=ACTION_TITLE_MAX_LENGTH, required=False)
    description = _text(ACTION_DESCRIPTION_MAX_LENGTH, required=False)
    owner = OwnerField(required=False, help_text="The owner's username.")
    due_date = serializers.DateField(required=False)
    priority = serializers.ChoiceField(choices=ActionItemPriority.choices, required=False)
    type = serializers.ChoiceField(choices=ActionItemType.choices, required=False)
    status = serializers.ChoiceField(choices=ActionItemStatus.choices, required=False)
    wont_do_reason = _text(
        WONT_DO_REASON_MAX_LENGTH, required=False, help_text="Required with status `wont_do`."
    )
    tracker_url = _text(TRACKER_URL_MAX_LENGTH, required=False)
    tracker_key = _text(TRACKER_KEY_MAX_LENGTH, required=False)
