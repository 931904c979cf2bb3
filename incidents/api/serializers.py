import functools

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from incidents import selectors
from incidents.choices import (
    ChecklistItem,
    Impact,
    IncidentSource,
    Priority,
    ResolutionCode,
    ServiceTier,
    Urgency,
)
from incidents.forms import not_in_future
from incidents.models import (
    MAX_AFFECTED_USERS,
    REASON_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Incident,
    IncidentEvent,
    IncidentResponder,
    Schedule,
    Service,
    Team,
)
from incidents.services import allowed_transitions
from incidents.sla.api import SlaTimerSerializer, iso_datetime, sla_timer_payload
from itsm.api.fields import TextLookupField
from itsm.api.serializers import StrictModelSerializer, StrictSerializer
from itsm.templatetags.people import display_name

User = get_user_model()


class UsernameField(TextLookupField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        super().__init__(**kwargs)


class TeamSlugField(TextLookupField):
    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "slug")
        kwargs.setdefault("queryset", Team.objects.all())
        super().__init__(**kwargs)


class TeamSerializer(StrictModelSerializer):
    members = UsernameField(many=True, required=False)

    class Meta:
        model = Team
        fields = ["slug", "name", "description", "email", "members"]


class ServiceSerializer(StrictModelSerializer):
    owner_team = TeamSlugField(required=False, allow_null=True)
    depends_on = TextLookupField(
        slug_field="slug", many=True, required=False, queryset=Service.objects.all()
    )
    tier = serializers.ChoiceField(choices=ServiceTier.choices, default=ServiceTier.TIER_3)

    class Meta:
        model = Service
        fields = ["slug", "name", "description", "tier", "owner_team", "user_count", "depends_on"]


class DownstreamServiceSerializer(StrictSerializer):
    """A `selectors.Downstream`: a service that depends on the one analysed, and how far."""

    slug = serializers.CharField(source="service.slug")
    name = serializers.CharField(source="service.name")
    user_count = serializers.IntegerField(source="service.user_count")
    depth = serializers.IntegerField(help_text="1: depends on it directly; 2: through one more.")


class ServiceImpactSerializer(StrictSerializer):
    """A `selectors.ServiceImpact`."""

    service = serializers.CharField(source="service.slug")
    user_count = serializers.IntegerField(
        source="service.user_count", help_text="The service's own users."
    )
    downstream = DownstreamServiceSerializer(many=True)
    affected_users = serializers.IntegerField(
        help_text="Its users plus those of every downstream service, each service once."
    )


class ChecklistEntrySerializer(StrictSerializer):
    item = serializers.CharField()
    label = serializers.CharField()
    done = serializers.BooleanField()
    ticked_by = serializers.CharField(allow_null=True)
    ticked_at = serializers.DateTimeField(allow_null=True)


@functools.cache
def _incident_path_template() -> str:
    return reverse("incidents:detail", args=["INC0000000"]).replace("INC0000000", "{}")


def incident_path(number: str) -> str:
    """The portal path of an incident; `reverse` once, not once per row of a page."""
    return _incident_path_template().format(number)


# Fields of an incident payload that are the model's values as they are.
PLAIN_FIELDS = (
    "number",
    "title",
    "description",
    "status",
    "priority",
    "priority_overridden",
    "impact",
    "urgency",
    "source",
    "affected_users",
    "reopen_count",
)


class IncidentListSerializer(serializers.ListSerializer):
    """A page of incidents, with the services and SLA timers of the whole page read in two
    queries of plain rows."""

    def to_representation(self, data):
        incidents = list(data)
        related = selectors.incident_related_rows(incident.pk for incident in incidents)
        zone = timezone.get_current_timezone()
        return [self.child.represent(incident, related, zone) for incident in incidents]


def _related_rows_of(incident) -> selectors.IncidentRelated:
    """The incident's services and timers: prefetched ones when the caller prefetched them,
    else read as plain rows."""
    cache = getattr(incident, "_prefetched_objects_cache", {})
    if "services" in cache and "sla_timers" in cache:
        return selectors.IncidentRelated(
            services={incident.pk: [service.slug for service in incident.services.all()]},
            sla_timers={incident.pk: list(incident.sla_timers.all())},
        )
    return selectors.incident_related_rows([incident.pk])


class IncidentSerializer(StrictModelSerializer):
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()
    sla_timers = SlaTimerSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        list_serializer_class = IncidentListSerializer
        fields = [
            *PLAIN_FIELDS,
            "url",
            "services",
            "team",
            "assignee",
            "reporter",
            *Incident.TIMESTAMP_FIELDS,
            "sla_timers",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return incident_path(obj.number)

    def to_representation(self, incident):
        return self.represent(incident, _related_rows_of(incident))

    def represent(self, incident, related: selectors.IncidentRelated, zone=None) -> dict:
        """The declared fields, built directly from the rows: DRF's field-by-field machinery
        was most of the cost of a page of incidents. A test keeps the two equal. `zone`: the
        current time zone, looked up once per page (iso_datetime)."""
        zone = zone or timezone.get_current_timezone()
        data = {name: getattr(incident, name) for name in PLAIN_FIELDS}
        data.update(
            (name, iso_datetime(getattr(incident, name), zone))
            for name in Incident.TIMESTAMP_FIELDS
        )
        data.update(
            url=incident_path(incident.number),
            services=related.services.get(incident.pk, []),
            team=incident.team.slug if incident.team_id else None,
            assignee=incident.assignee.get_username() if incident.assignee_id else None,
            reporter=incident.reporter.get_username() if incident.reporter_id else None,
            sla_timers=[
                sla_timer_payload(timer, zone) for timer in related.sla_timers.get(incident.pk, ())
            ],
        )
        return data


class IncidentDetailSerializer(IncidentSerializer):
    duplicate_of = serializers.SlugRelatedField(
        slug_field="number", read_only=True, allow_null=True
    )
    resolution_code = serializers.ChoiceField(
        choices=ResolutionCode.choices,
        read_only=True,
        allow_blank=True,
        help_text="Empty until resolved.",
    )
    checklist = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta(IncidentSerializer.Meta):
        fields = [
            *IncidentSerializer.Meta.fields,
            "hold_reason",
            "mitigation_note",
            "resolution_code",
            "resolution_notes",
            "cancel_reason",
            "duplicate_of",
            "related_problem",
            "related_change",
            "checklist",
            "allowed_transitions",
        ]
        read_only_fields = fields

    DETAIL_PLAIN_FIELDS = (
        "hold_reason",
        "mitigation_note",
        "resolution_code",
        "resolution_notes",
        "cancel_reason",
        "related_problem",
        "related_change",
    )

    def represent(self, incident, related: selectors.IncidentRelated, zone=None) -> dict:
        data = super().represent(incident, related, zone)
        data.update((name, getattr(incident, name)) for name in self.DETAIL_PLAIN_FIELDS)
        data.update(
            duplicate_of=incident.duplicate_of.number if incident.duplicate_of_id else None,
            checklist=self.get_checklist(incident),
            allowed_transitions=self.get_allowed_transitions(incident),
        )
        return data

    def get_checklist(self, obj) -> list[dict]:
        return ChecklistEntrySerializer(selectors.checklist_rows(obj), many=True).data

    def get_allowed_transitions(self, obj) -> list[str]:
        request = self.context.get("request")
        return allowed_transitions(obj, request.user if request else None)


class IncidentCreateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    description = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    services = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    team = TeamSlugField(required=False, allow_null=True)
    assignee = UsernameField(required=False, allow_null=True)
    source = serializers.ChoiceField(choices=IncidentSource.choices, required=False)
    affected_users = serializers.IntegerField(
        min_value=0, max_value=MAX_AFFECTED_USERS, required=False, default=0
    )
    detected_at = serializers.DateTimeField(required=False, validators=[not_in_future])
    started_at = serializers.DateTimeField(required=False, validators=[not_in_future])
    related_problem = serializers.CharField(
        max_length=40, required=False, default="", allow_blank=True
    )
    related_change = serializers.CharField(
        max_length=40, required=False, default="", allow_blank=True
    )

    def validate(self, attrs):
        has_scale = "impact" in attrs and "urgency" in attrs
        if "priority" not in attrs and not has_scale:
            raise serializers.ValidationError(
                {"priority": "Give impact and urgency, or an explicit priority (P1..P4)."}
            )
        return attrs


class IncidentUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, required=False)
    description = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True
    )
    impact = serializers.ChoiceField(choices=Impact.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    priority_reason = serializers.CharField(max_length=REASON_MAX_LENGTH, required=False)
    services = serializers.ListField(child=serializers.CharField(), required=False)
    team = TeamSlugField(required=False, allow_null=True)
    assignee = UsernameField(required=False, allow_null=True)
    affected_users = serializers.IntegerField(
        min_value=0, max_value=MAX_AFFECTED_USERS, required=False
    )
    detected_at = serializers.DateTimeField(required=False, validators=[not_in_future])
    started_at = serializers.DateTimeField(required=False, validators=[not_in_future])
    related_problem = serializers.CharField(max_length=40, required=False, allow_blank=True)
    related_change = serializers.CharField(max_length=40, required=False, allow_blank=True)

    def validate(self, attrs):
        read_only = sorted(set(self.initial_data) - set(self.fields))
        if read_only:
            raise serializers.ValidationError(
                {name: "This field cannot be changed here." for name in read_only}
            )
        if "priority" in attrs and not attrs.get("priority_reason", "").strip():
            raise serializers.ValidationError(
                {"priority_reason": "A reason is required to override the priority."}
            )
        return attrs


class TransitionSerializer(StrictSerializer):
    """The guard's fields; which are required depends on the transition."""

    note = serializers.CharField(max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH, required=False, allow_blank=True)
    resolution_code = serializers.ChoiceField(choices=ResolutionCode.choices, required=False)
    resolution_notes = serializers.CharField(
        max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True
    )
    duplicate_of = serializers.CharField(max_length=10, required=False, allow_blank=True)
    confirm = serializers.BooleanField(
        required=False,
        help_text="Resolve: true to resolve while alerts of the incident still fire (else 409).",
    )


class NoteSerializer(StrictSerializer):
    text = serializers.CharField(max_length=TEXT_MAX_LENGTH)
    public = serializers.BooleanField(default=False)


class ChecklistTickSerializer(StrictSerializer):
    item = serializers.ChoiceField(choices=ChecklistItem.choices)
    done = serializers.BooleanField(default=True)


class IncidentEventSerializer(StrictModelSerializer):
    actor = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="null: the system."
    )

    class Meta:
        model = IncidentEvent
        fields = ["id", "type", "summary", "actor", "source", "at", "data", "public", "pinned"]
        read_only_fields = fields


class HistoryChangeSerializer(StrictSerializer):
    field = serializers.CharField()
    old = serializers.JSONField()
    new = serializers.JSONField()


class HistoryEntrySerializer(StrictSerializer):
    at = serializers.DateTimeField()
    user = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    type = serializers.CharField()
    changes = HistoryChangeSerializer(many=True)


class PageSerializer(StrictSerializer):
    """Whom to page (or add as responders): people, teams (every member) and schedules
    (whoever is on call now); at least one of them."""

    users = UsernameField(many=True, required=False, help_text="Usernames.")
    teams = TeamSlugField(many=True, required=False, help_text="Team slugs: every member.")
    schedules = TextLookupField(
        slug_field="slug",
        many=True,
        required=False,
        queryset=Schedule.objects.all(),
        help_text="Schedule slugs: whoever is on call now.",
    )
    message = serializers.CharField(
        required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, default=""
    )


class ResponderSerializer(StrictModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    name = serializers.SerializerMethodField()
    added_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = IncidentResponder
        fields = ["user", "name", "added_by", "added_at"]
        read_only_fields = fields

    def get_name(self, responder) -> str:
        return display_name(responder.user)
