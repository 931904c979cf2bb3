"""django-q2 tasks of the post-incident review: thin and idempotent."""

from postmortems import services


def ensure_review(incident_id: int) -> int | None:
    """Draft the review of a resolved incident that requires one; the review's id, if any."""
    review = services.review_ensure_for(incident_id=incident_id)
    return review.pk if review else None
