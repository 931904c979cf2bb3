"""Payloads as real senders post them (Alertmanager 0.27 webhook version "4", Grafana 11's
webhook contact point version "1", PagerDuty Events API v2 with every optional field), and the
helpers the alert tests share."""

import json
from pathlib import Path

HERE = Path(__file__).parent


def payload(name: str, **changes) -> dict:
    """The recorded payload `name` (alertmanager_firing, ...), with top-level `changes`."""
    return {**json.loads((HERE / f"{name}.json").read_text()), **changes}


def post(client, url: str, body, **headers):
    """POST `body` (a dict, or text sent as it is) as JSON, as a sender does: no session."""
    text = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=text, content_type="application/json", **headers)
