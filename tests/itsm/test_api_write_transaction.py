"""Every API write runs in one transaction with its answer (itsm/api/viewsets.py): a write
answered 500 wrote nothing, so a retry does it once; one answered 2xx committed."""

import pytest

from itsm.api.webhooks import WebhookSubscriptionViewSet
from itsm.models import WebhookSubscription

URL = "https://hooks.example.org/itsm"


@pytest.fixture
def hook(db):
    return WebhookSubscription.objects.create(name="Everything", url=URL)


def test_a_write_whose_answer_fails_is_a_500_that_wrote_nothing(api, manager, hook, monkeypatch):
    """The answer is read in the write's transaction: failing to read it (the database went
    away) rolls the write back instead of answering 500 for an edit that committed."""
    client = api.as_user(manager)
    client.raise_request_exception = False

    get_serializer = WebhookSubscriptionViewSet.get_serializer

    def answer_unreadable(self, *args, **kwargs):
        """The body's serializer works; the answer's (no data) fails, after the save."""
        if "data" not in kwargs:
            raise RuntimeError("connection lost")
        return get_serializer(self, *args, **kwargs)

    monkeypatch.setattr(WebhookSubscriptionViewSet, "get_serializer", answer_unreadable)
    response = client.patch(f"/api/webhooks/{hook.pk}/", {"name": "Renamed"}, format="json")

    assert response.status_code == 500
    assert WebhookSubscription.objects.get().name == "Everything"


def test_a_delete_is_replayed_without_a_body(api, manager, hook):
    client = api.as_user(manager)
    url = f"/api/webhooks/{hook.pk}/"

    first = client.delete(url, HTTP_IDEMPOTENCY_KEY="drop")
    again = client.delete(url, HTTP_IDEMPOTENCY_KEY="drop")

    assert (first.status_code, again.status_code) == (204, 204)
    assert again.content == first.content == b""
    assert again.get("Content-Type") == first.get("Content-Type")
    assert again["Idempotent-Replayed"] == "true"
    assert not WebhookSubscription.objects.exists()
