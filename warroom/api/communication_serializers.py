"""What the communications API reads and writes (docs/api.md, "Communications")."""

from rest_framework import serializers

from itsm.api.serializers import StrictModelSerializer, StrictSerializer
from warroom.api.serializers import EscapingChoiceField, PersonSerializer
from warroom.choices import CommunicationKind
from warroom.models import (
    COMMUNICATION_BODY_MAX_LENGTH,
    COMMUNICATION_SUBJECT_MAX_LENGTH,
    Communication,
    CommunicationRecipient,
    CommunicationTemplate,
)


class RecipientSerializer(StrictModelSerializer):
    class Meta:
        model = CommunicationRecipient
        fields = ["kind", "address"]
        read_only_fields = fields


class CommunicationSerializer(StrictModelSerializer):
    audience = serializers.CharField(source="audience.name")
    created_by = PersonSerializer(allow_null=True, help_text="Null: drafted by the system.")
    sent_by = PersonSerializer(allow_null=True, help_text="Null: not sent, or sent by the system.")
    recipients = RecipientSerializer(many=True)

    class Meta:
        model = Communication
        fields = [
            "id",
            "kind",
            "subject",
            "body",
            "audience",
            "status",
            "template_version",
            "created_by",
            "created_at",
            "sent_by",
            "sent_at",
            "recipients",
        ]
        read_only_fields = fields


class CommunicationDraftSerializer(StrictSerializer):
    template = EscapingChoiceField(choices=CommunicationKind.choices, help_text="The kind.")


class CommunicationUpdateSerializer(StrictSerializer):
    subject = serializers.CharField(max_length=COMMUNICATION_SUBJECT_MAX_LENGTH, required=False)
    body = serializers.CharField(max_length=COMMUNICATION_BODY_MAX_LENGTH, required=False)


class CommunicationTemplateSerializer(StrictModelSerializer):
    audience = serializers.CharField(source="audience.name", allow_null=True)

    class Meta:
        model = CommunicationTemplate
        fields = [
            "kind",
            "trigger",
            "audience",
            "audience_description",
            "subject_template",
            "body_template",
            "version",
            "auto_post",
            "updated_at",
        ]
        read_only_fields = fields
