"""Payloads as real senders post them (Alertmanager 0.27 webhook version "4", Grafana 11's
webhook contact point version "1", PagerDuty Events API v2 with every optional field), and the
helpers the alert tests share."""

import json
from pathlib import Path

from incidents.alerts.drain import payloads_drain
from incidents.models import ReceivedPayload

HERE = Path(__file__).parent


def payload(name: str, **changes) -> dict:
    """The recorded payload `name` (alertmanager_firing, ...), with top-level `changes`."""
    return {**json.loads((HERE / f"{name}.json").read_text()), **changes}


def post(client, url: str, body, **headers):
    """POST `body` (a dict, or text sent as it is) as JSON, as a sender does (no session),
    then let the worker apply what was accepted, as it does once woken."""
    response = send(client, url, body, **headers)
    if response.status_code == 202:
        payloads_drain()
    return response


def send(client, url: str, body, **headers):
    """POST `body` as a sender does, and nothing more: what it kept stays pending."""
    text = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=text, content_type="application/json", **headers)


def incident_of(response):
    """The incident the accepted payload of `response` opened or joined."""
    payload = ReceivedPayload.objects.select_related("group__incident").get(
        pk=response.json()["payload"]
    )
    return payload.group.incident
