import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from incidents.choices import ChangeSource
from incidents.sla.presets import load_preset
from tests.factories import make_incident
from warroom import services
from warroom.choices import WarRoomRole


@pytest.fixture
def p1(responder, service):
    """An open P1 incident."""
    return make_incident(actor=responder, services=[service.slug], impact=1, urgency=1)


@pytest.fixture
def declare(manager):
    """Declare an incident major, as the manager, through the service."""

    def run(incident, *, actor=manager, **fields):
        fields.setdefault("manager", manager)
        fields.setdefault("initial_impact_statement", "Checkout fails for every customer")
        fields.setdefault("bridge_link", "https://meet.example.com/abc-defg-hij")
        return services.major_incident_declare(
            incident=incident, actor=actor, source=ChangeSource.CLI, **fields
        )

    return run


@pytest.fixture
def major(p1, declare):
    """An active major incident on `p1`, managed by `manager`."""
    return declare(p1)


DECLARED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def commanded(db, responder, service, manager, declare, time_machine):
    """A P1 under the techflow SLA preset (updates every 30 min), declared major at 09:00 UTC
    with `responder` (Rita Ross) as its incident commander."""
    time_machine.move_to(DECLARED, tick=False)
    load_preset("techflow", make_default=True)
    responder.first_name, responder.last_name = "Rita", "Ross"
    responder.save()
    incident = make_incident(actor=responder, services=[service.slug], impact=1, urgency=1)
    major = declare(incident)
    services.role_assign(
        major=major,
        actor=manager,
        source=ChangeSource.CLI,
        role=WarRoomRole.INCIDENT_COMMANDER,
        user=responder,
    )
    return incident


@pytest.fixture
def make_comms_lead(make_user, manager):
    """`make_comms_lead(major)`: Cora Lead, a responder, made `major`'s communications lead."""

    def make(major):
        lead = make_user("cora", roles=["responder"], first_name="Cora", last_name="Lead")
        services.role_assign(
            major=major,
            actor=manager,
            source=ChangeSource.CLI,
            role=WarRoomRole.COMMUNICATIONS_LEAD,
            user=lead,
        )
        return lead

    return make


class _ChatCompletions(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "json": body}
        )
        status, content = self.server.answers.pop(0)
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(answer).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def llm(settings):
    """A local server that speaks the chat-completions protocol, configured as LLM_URL: it
    records each request in `requests` and answers with the next of `answers` (status, text)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatCompletions)
    server.requests, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.LLM_URL = f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
    settings.LLM_MODEL, settings.LLM_API_KEY = "llama3", "sk-test"
    yield server
    server.shutdown()
    server.server_close()
    thread.join()
