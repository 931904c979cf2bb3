"""The post-incident review (PIR): one per incident, its document, and the policy that says
which incidents need one and by when."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from incidents.models import Incident
from postmortems.choices import PolicyScope, ReviewStatus

__all__ = [
    "CHANGE_PERMISSION",
    "PUBLISH_PERMISSION",
    "REASON_MAX_LENGTH",
    "REVENUE_MAX_DIGITS",
    "SECTIONS",
    "SECTION_MAX_LENGTH",
    "PostIncidentReview",
    "ReviewPolicy",
    "SectionRevision",
]

S = ReviewStatus
CHANGE_PERMISSION = "postmortems.change_postincidentreview"
PUBLISH_PERMISSION = "postmortems.publish_review"
SECTION_MAX_LENGTH = 50_000
REASON_MAX_LENGTH = 500
REVENUE_MAX_DIGITS = 14

# The document's sections, in the order of the template (incident-response-workflow.md's
# "Postmortem Template", with the Google SRE format's "where we got lucky" and
# "trigger and detection"): field name → heading. Each is Markdown.
SECTIONS = {
    "summary": "Incident summary",
    "impact": "Impact",
    "trigger_detection": "Trigger and detection",
    "root_cause": "Root cause",
    "went_well": "What went well",
    "went_poorly": "What went poorly",
    "got_lucky": "Where we got lucky",
    "prevention": "Prevention and detection",
    "lessons_learned": "Lessons learned",
}


class ReviewPolicy(models.Model):
    """Whether incidents of one priority (or every major incident) need a review, and how long
    after resolution it is due. Editable in the admin; a missing row falls back to
    postmortems.choices.DEFAULT_POLICY."""

    scope = models.CharField(max_length=10, choices=PolicyScope.choices, unique=True)
    required = models.BooleanField(
        help_text="A review is created by itself when such an incident resolves. Otherwise "
        "one is written only when someone asks for it."
    )
    due_after = models.DurationField(
        help_text="How long after resolution the review is due (e.g. 2 00:00:00 for 48 h)."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["scope"]
        verbose_name = "review policy"
        verbose_name_plural = "review policies"

    def __str__(self):
        need = "required" if self.required else "optional"
        return f"{self.get_scope_display()}: {need}, due {self.due_after} after resolution"


def _has_skip_reason(review) -> bool:
    return bool(review.skip_reason.strip())


def _is_optional(review) -> bool:
    return not review.required


def _has_return_reason(review) -> bool:
    return bool(review.return_reason.strip())


class PostIncidentReview(FSMModelMixin, models.Model):
    """The blameless review of one incident. The sections are Markdown (rendered through
    itsm.markdown); `facts`, the first `timeline` and `proposed_action_items` are
    generated from the record (postmortems.drafting) and then edited by people."""

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="review")
    status = FSMField(max_length=20, choices=S.choices, default=S.DRAFT, protected=True)
    required = models.BooleanField(
        default=False, help_text="The policy requires it; required reviews cannot be skipped."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_reviews",
    )
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    return_reason = models.CharField(
        max_length=REASON_MAX_LENGTH, blank=True, help_text="Why it was last sent back to draft."
    )

    summary = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    impact = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    trigger_detection = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    root_cause = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    went_well = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    went_poorly = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    got_lucky = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    prevention = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    lessons_learned = models.TextField(blank=True, max_length=SECTION_MAX_LENGTH)
    public_summary = models.TextField(
        blank=True, max_length=SECTION_MAX_LENGTH, help_text="For the public status page."
    )
    # The impact section's figure the reports add up (docs/metrics.md); None: not estimated.
    revenue_impact = models.DecimalField(
        max_digits=REVENUE_MAX_DIGITS,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Revenue lost, estimated, in the reports' currency (REPORTS_CURRENCY).",
    )

    # Rows {at, event, action, owner}, oldest first.
    timeline = models.JSONField(default=list, blank=True)
    # Rows {text, source}: lines of the war room's scratchpad marked TODO, FIXME or ACTION.
    proposed_action_items = models.JSONField(default=list, blank=True)
    # The facts the draft was generated from (postmortems.drafting.incident_facts).
    facts = models.JSONField(default=dict, blank=True)
    # Section name → its version (0 for the draft's text): what a live edit is typed against.
    # Every later version is a SectionRevision row.
    section_versions = models.JSONField(default=dict, blank=True)

    history = HistoricalRecords(excluded_fields=["section_versions"])

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = "post-incident review"
        permissions = [("publish_review", "Can publish post-incident reviews")]
        indexes = [models.Index(fields=["status", "due_at"], name="review_status_due_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=S.values), name="review_status_valid")
        ]

    def __str__(self):
        return f"Review of {self.incident.number}"

    # --- lifecycle: the services set the reason fields before calling ------------------------

    @transition(field=status, source=S.DRAFT, target=S.IN_REVIEW, permission=CHANGE_PERMISSION)
    def submit(self):
        self.submitted_at = timezone.now()
        self.return_reason = ""

    @transition(field=status, source=S.IN_REVIEW, target=S.PUBLISHED, permission=PUBLISH_PERMISSION)
    def publish(self):
        self.published_at = timezone.now()

    @transition(
        field=status,
        source=[S.IN_REVIEW, S.SKIPPED],
        target=S.DRAFT,
        conditions=[_has_return_reason],
        permission=CHANGE_PERMISSION,
    )
    def return_to_draft(self):
        self.submitted_at = None
        self.skip_reason = ""

    @transition(
        field=status,
        source=S.DRAFT,
        target=S.SKIPPED,
        conditions=[_is_optional, _has_skip_reason],
        permission=CHANGE_PERMISSION,
    )
    def skip(self):
        """Only optional reviews; the reason stays on the record."""


class SectionRevision(models.Model):
    """Every saved version of one section of a review, the draft's text (version 0) included
    once it is first changed: the base a late edit is merged from (warroom.merge), and the
    record of who wrote what while several people typed."""

    review = models.ForeignKey(
        PostIncidentReview, on_delete=models.CASCADE, related_name="section_revisions"
    )
    section = models.CharField(max_length=30, choices=[(k, v) for k, v in SECTIONS.items()])
    version = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    merged = models.BooleanField(
        default=False, help_text="The edit was written against an older version and merged."
    )

    class Meta:
        ordering = ["review", "section", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "section", "version"], name="section_version_once"
            )
        ]

    def __str__(self):
        return f"{self.review} · {SECTIONS[self.section]} v{self.version}"
