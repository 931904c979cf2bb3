"""The status page's subscribers in the admin: listed (address, confirmed, components,
created), searched and filtered by ITSM managers; never added, confirmed or edited there (that
would bypass double opt-in), their link secret never shown; unsubscribed or deleted."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.warroom.status_fixtures import make_component
from warroom.models import StatusSubscriber
from warroom.status import subscriptions

LIST = reverse("admin:warroom_statussubscriber_changelist")


@pytest.fixture
def subscribers(manager):
    """ann: confirmed, whole page; bob: confirmed, API; cat: waiting; dan: unsubscribed."""
    api = make_component(manager, "API")
    rows = {}
    for name, slugs in (("ann", []), ("bob", [api.slug]), ("cat", []), ("dan", [])):
        rows[name] = subscriptions.subscriber_subscribe(
            email=f"{name}@example.com", component_slugs=slugs
        )
    for name in ("ann", "bob", "dan"):
        subscriptions.subscriber_confirm(subscriber=rows[name])
    subscriptions.subscriber_unsubscribe(subscriber=rows["dan"])
    mail.outbox.clear()
    return rows


def listed(client, query: str = "") -> list[str]:
    page = client.get(LIST + query)
    assert page.status_code == 200
    return [s.email for s in page.context["cl"].result_list]


def test_a_manager_lists_searches_and_filters_without_seeing_a_secret(
    signed_in, manager, subscribers, django_assert_max_num_queries
):
    client = signed_in(manager)
    with django_assert_max_num_queries(12):
        page = client.get(LIST).content.decode()
    for name in ("ann", "bob", "cat", "dan"):
        assert f"{name}@example.com" in page
    assert "The whole page" in page and "API" in page
    assert listed(client, "?q=bob") == ["bob@example.com"]
    assert listed(client, "?state=pending") == ["cat@example.com"]
    assert listed(client, "?state=confirmed") == ["ann@example.com", "bob@example.com"]
    assert listed(client, "?state=unsubscribed") == ["dan@example.com"]
    change = client.get(
        reverse("admin:warroom_statussubscriber_change", args=[subscribers["cat"].pk])
    ).content.decode()
    assert "double opt-in" in change
    for subscriber in StatusSubscriber.objects.all():
        assert subscriber.token not in page + change


def test_nobody_adds_confirms_or_edits_a_subscriber_in_the_admin(
    signed_in, super_admin, subscribers
):
    client = signed_in(super_admin)
    cat = subscribers["cat"]
    change = reverse("admin:warroom_statussubscriber_change", args=[cat.pk])
    assert client.get(reverse("admin:warroom_statussubscriber_add")).status_code == 403
    response = client.post(change, {"email": "cat@example.com", "confirmed_at_0": "2026-03-02"})
    assert response.status_code == 403
    cat.refresh_from_db()
    assert cat.confirmed_at is None
    assert 'name="confirmed_at' not in client.get(change).content.decode()


def test_a_manager_unsubscribes_the_selected(signed_in, manager, subscribers):
    client = signed_in(manager)
    ann, bob = subscribers["ann"], subscribers["bob"]
    response = client.post(LIST, {"action": "unsubscribe", "_selected_action": [ann.pk]})
    assert response.status_code == 302
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert (ann.is_active, bob.is_active) == (False, True)
    api = list(bob.components.values_list("pk", flat=True))
    assert list(subscriptions.subscribers_of(api)) == [bob]  # ann is mailed no more


def test_a_manager_deletes_an_address_on_request(signed_in, manager, subscribers):
    client = signed_in(manager)
    cat = subscribers["cat"]
    response = client.post(
        LIST, {"action": "delete_selected", "_selected_action": [cat.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not StatusSubscriber.objects.filter(email="cat@example.com").exists()


def test_responders_do_not_see_subscribers(signed_in, make_user, subscribers):
    responder = make_user("ray", roles=["responder"], is_staff=True)
    assert signed_in(responder).get(LIST).status_code == 403
