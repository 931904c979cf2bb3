"""The Communications card of the incident page and the war room (docs/communications.md,
"In the portal"), and its writes: draft one of a kind, save a draft's edits, send it, improve it
with AI. Plain form posts: on success back to the page the form was on (POST/redirect/GET) with
a message; on bad input or a refusal, the card on a page of its own with the form's errors and
the failure's HTTP status, nothing changed. Who may do what is the API's rule: drafting and
editing need `warroom.add_communication`, sending is the service's (the communications lead,
the incident commander, managers)."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET

from incidents.choices import ChangeSource
from incidents.models import Incident
from incidents.views import INVALID_FORM, portal_view
from itsm.errors import ApplicationError
from itsm.http import post_only
from warroom.choices import CommunicationKind, CommunicationStatus
from warroom.communications import ai, services
from warroom.communications.forms import CommunicationForm, DraftForm
from warroom.communications.selectors import VIEW_COMMUNICATION_PERMISSION, communications_of
from warroom.models import DRAFT_COMMUNICATION_PERMISSION, Communication

PORTAL = ChangeSource.PORTAL
# Where a card's form goes back to: the page it is on (the `back` field of each form).
PAGES = ("room", "incident", "page")


class CommunicationsCard:
    """What the card shows `user`: the incident's communications (drafts only to those who
    draft), the draft buttons, and each draft's form (`failed`: a rejected one, bound, in
    its place). In a read-only place (an ended war room) it offers no form."""

    kinds = CommunicationKind.choices

    def __init__(self, incident, user, *, back: str, writable=True, failed=None):
        self.incident, self.user, self.back, self.writable = incident, user, back, writable
        self.can_draft = writable and user.has_perm(DRAFT_COMMUNICATION_PERMISSION)
        self.can_improve = self.can_draft and ai.configured()
        self.draft_form = failed if isinstance(failed, DraftForm) else DraftForm()
        self.failed = failed if isinstance(failed, CommunicationForm) else None

    @cached_property
    def communications(self) -> list[Communication]:
        shown = communications_of(self.incident)
        if not self.user.has_perm(DRAFT_COMMUNICATION_PERMISSION):
            shown = shown.filter(status=CommunicationStatus.SENT)
        shown = list(shown)
        for communication in shown:
            communication.form = self._form(communication)
        return shown

    def _form(self, communication: Communication) -> CommunicationForm | None:
        if not self.can_draft or communication.status != CommunicationStatus.DRAFT:
            return None
        if self.failed is not None and self.failed.communication_pk == communication.pk:
            return self.failed
        return CommunicationForm.for_draft(communication)

    @cached_property
    def can_send(self) -> bool:
        """Asked only when a draft's form is shown (a query for people without the
        permission, so not on every page)."""
        return services.may_send(self.user, self.incident)


# --- the page of its own -----------------------------------------------------------------------


def _incident_or_404(number: str) -> Incident:
    return get_object_or_404(Incident, number=number)


def _back(request) -> str:
    back = request.POST.get("back")
    return back if back in PAGES else "incident"


def _back_url(incident: Incident, back: str) -> str:
    if back == "room":
        return reverse("warroom:room", args=[incident.number])
    if back == "page":
        return reverse("warroom:communications", args=[incident.number])
    return incident.get_absolute_url()


def _page(request, incident, *, back="page", status=200, failed=None):
    card = CommunicationsCard(incident, request.user, back=back, failed=failed)
    context = {"incident": incident, "card": card, "back_url": _back_url(incident, back)}
    return render(request, "warroom/communications/page.html", context, status=status)


@require_GET
@portal_view(VIEW_COMMUNICATION_PERMISSION)
def communications_page(request, number):
    """The card on a page of its own: where a rejected form comes back, and a link target."""
    return _page(request, _incident_or_404(number))


# --- writes ------------------------------------------------------------------------------------


def _submit(request, incident, form, write):
    """Validate `form`, then run `write(form)`: service calls that return the communication
    written and what to tell the user. Success goes back to the form's page, at the
    communication; bad input or a refusal shows the card again with the form's errors."""
    back = _back(request)
    if not form.is_valid():
        messages.error(request, INVALID_FORM)
        return _page(request, incident, back=back, status=400, failed=form)
    try:
        communication, done = write(form)
    except ApplicationError as error:
        form.add_application_error(error)
        messages.error(request, error.message)
        return _page(request, incident, back=back, status=error.status, failed=form)
    messages.success(request, done)
    return redirect(f"{_back_url(incident, back)}#communication-{communication.pk}")


def _draft_form(request, incident, pk) -> tuple[Communication, CommunicationForm]:
    communication = get_object_or_404(communications_of(incident), pk=pk)
    return communication, CommunicationForm.for_draft(communication, request.POST)


def _save(request, communication: Communication, form: CommunicationForm) -> Communication:
    """The form's edits saved, when there are any."""
    changes = form.changes(communication)
    if not changes:
        return communication
    return services.communication_update(
        communication=communication, actor=request.user, source=PORTAL, **changes
    )


@post_only("warroom:communications", "number")
@portal_view(DRAFT_COMMUNICATION_PERMISSION)
def communication_draft(request, number):
    incident = _incident_or_404(number)

    def write(form):
        draft = services.communication_draft(
            incident=incident, kind=form.cleaned_data["template"], actor=request.user, source=PORTAL
        )
        return draft, f"{draft.get_kind_display()} drafted: edit it, then send it."

    return _submit(request, incident, DraftForm(request.POST), write)


@post_only("warroom:communications", "number")
@portal_view(DRAFT_COMMUNICATION_PERMISSION)
def communication_save(request, number, pk):
    incident = _incident_or_404(number)
    communication, form = _draft_form(request, incident, pk)

    def write(form):
        return _save(request, communication, form), "Draft saved."

    return _submit(request, incident, form, write)


@post_only("warroom:communications", "number")
@portal_view(VIEW_COMMUNICATION_PERMISSION)  # who may send is the service's rule, as in the API
def communication_send(request, number, pk):
    """Send the draft as the form has it: its edits are saved in the same transaction, so a
    refused send saves nothing."""
    incident = _incident_or_404(number)
    communication, form = _draft_form(request, incident, pk)

    def write(form):
        with transaction.atomic():
            saved = _save(request, communication, form)
            sent = services.communication_send(
                communication=saved, actor=request.user, source=PORTAL
            )
        count = sent.recipients.count()
        return sent, (
            f"{sent.get_kind_display()} sent to {sent.audience.name} "
            f"({count} recipient{'s' if count != 1 else ''})."
        )

    return _submit(request, incident, form, write)


@post_only("warroom:communications", "number")
@portal_view(DRAFT_COMMUNICATION_PERMISSION)
def communication_improve(request, number, pk):
    """Have the AI endpoint rewrite the draft as the form has it; its edits are saved with the
    answer, or not at all when the endpoint fails (the form keeps the text)."""
    incident = _incident_or_404(number)
    communication, form = _draft_form(request, incident, pk)

    def write(form):
        improved = services.communication_improve(
            communication=communication,
            actor=request.user,
            source=PORTAL,
            **form.changes(communication),
        )
        return improved, "Rewritten by AI from the incident's facts: read it before sending."

    return _submit(request, incident, form, write)
