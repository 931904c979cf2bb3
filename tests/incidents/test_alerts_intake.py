"""The web's half of alert intake (incidents/alerts/intake.py): what each process keeps of the
integrations and of the bodies it read, and how a change made in another process reaches it."""

import time

import pytest

from incidents.alerts import intake
from incidents.models import Integration, ReceivedPayload
from tests.incidents.alert_payloads import send

BODY = {"check": {"id": 4711, "name": "Disk almost full on db-1"}, "host": "db-1"}


def _another_process_changes(integration, **fields):
    """A change saved by another process: this one hears of it only when its copy expires."""
    Integration.objects.filter(pk=integration.pk).update(**fields)
    intake._by_key.clear()  # as after KEY_CACHE_SECONDS


def test_a_mapping_changed_elsewhere_reads_a_known_body_again(client, make_integration):
    generic = make_integration("generic", title_path="check.name", dedup_key_path="check.id")
    url = f"/api/alerts/generic/{generic.key}/"
    assert send(client, url, BODY).status_code == 202

    _another_process_changes(generic, dedup_key_path="host")
    assert send(client, url, BODY).status_code == 202

    keys = ReceivedPayload.objects.order_by("pk").values_list("group_key", flat=True)
    assert list(keys) == ["4711", "db-1"]


def test_a_key_deactivated_elsewhere_is_refused_once_the_copy_expires(client, make_integration):
    integration = make_integration()
    url = f"/api/alerts/alertmanager/{integration.key}/"
    assert send(client, url, "{}").status_code == 400  # known: read, and refused as a body

    _another_process_changes(integration, active=False)

    assert send(client, url, "{}").status_code == 404


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_key_deleted_elsewhere_is_404_while_this_process_still_holds_it(client, make_integration):
    """Its payload's foreign key fails at commit: answered again without the copy, not 500."""
    integration = make_integration()
    url = f"/api/alerts/alertmanager/{integration.key}/"
    assert send(client, url, "{}").status_code == 400
    ReceivedPayload.objects.all().delete()
    Integration.objects.filter(pk=integration.pk).delete()
    intake._by_key[(integration.key, integration.kind)] = (time.monotonic() + 5, integration)

    response = send(client, url, "{}")

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert not ReceivedPayload.objects.exists()
