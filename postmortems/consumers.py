"""A review's live page: `ws/postmortems/<NUMBER>/` (docs/live-pages.md).

Several people edit the document at once. What they type is saved over HTTP
(`PUT /api/incidents/<NUMBER>/postmortem/sections/<section>/`, through
postmortems.services.review_section_save, the war room scratchpad's merge); this socket tells
every open page of each saved version and of the review's status. Each section's version only
grows, and the snapshot of every (re)connection carries each section's current version and
text, so a page that missed a message while it was away catches up on reconnecting.
"""

from channels.db import database_sync_to_async

from itsm import live
from itsm.consumers import ListeningConsumer
from itsm.markdown import render
from postmortems.models import SECTIONS, PostIncidentReview
from postmortems.selectors import readable_reviews
from postmortems.services import EDITABLE_STATUSES, review_group

VIEW_PERMISSION = "postmortems.view_postincidentreview"
NO_SUCH_REVIEW = 4404


def _admit(user, number: str) -> tuple[int | None, int | None]:
    """(the close code refusing `user`, or None; the review's id)."""
    refusal = live.refusal(user, VIEW_PERMISSION)
    if refusal is not None:
        return refusal, None
    review_id = readable_reviews(user).filter(incident__number=number).values_list("pk", flat=True)
    review_id = review_id.first()
    return (NO_SUCH_REVIEW, None) if review_id is None else (None, review_id)


def snapshot(review_id: int) -> dict:
    """The first message of each connection: the status and every section as it is now. Read
    once the page listens, so nothing saved in between is missed."""
    review = PostIncidentReview.objects.select_related("incident").get(pk=review_id)
    return {
        "kind": "snapshot",
        "incident": review.incident.number,
        "status": review.status,
        "editable": review.status in EDITABLE_STATUSES,
        "sections": {
            name: {
                "name": name,
                "version": review.section_versions.get(name, 0),
                "text": getattr(review, name),
                "html": render(getattr(review, name)),
            }
            for name in SECTIONS
        },
    }


class ReviewConsumer(ListeningConsumer):
    view_permission = VIEW_PERMISSION
    review_id: int | None = None

    async def connect(self):
        number = self.scope["url_route"]["kwargs"]["number"]
        user = self.scope["user"]
        refusal, review_id = await database_sync_to_async(_admit)(user, number)
        if refusal is not None:
            await self.refuse(refusal)
            return
        self.review_id = review_id
        await self.accept()
        await self.listen(user, [review_group(number)])

    def read_snapshot(self, query_string: bytes) -> dict:
        return snapshot(self.review_id)
