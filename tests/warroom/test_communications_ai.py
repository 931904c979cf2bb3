"""'Improve with AI' against a local server that speaks the chat-completions protocol: it gets
the incident's facts and the draft, and its answer becomes the draft's body; unset, the
endpoint is never called; a failure leaves the draft unchanged. The server is the `llm`
fixture (tests/warroom/conftest.py)."""

from tests.conftest import api_error


def improve_path(incident, draft) -> str:
    return f"/api/incidents/{incident.number}/communications/{draft['id']}/improve/"


def drafted(api, incident, user):
    url = f"/api/incidents/{incident.number}/communications/"
    return api.as_user(user).post(url, {"template": "update"}, format="json").json()


def test_the_draft_is_rewritten_from_the_incidents_facts(api, commanded, responder, llm):
    llm.answers.append((200, "Checkout is down for every customer; Rita Ross leads the fix."))
    draft = drafted(api, commanded, responder)
    response = api.as_user(responder).post(improve_path(commanded, draft))
    assert response.status_code == 200, response.content
    assert (
        response.json()["body"] == "Checkout is down for every customer; Rita Ross leads the fix."
    )
    (request,) = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["json"]["model"] == "llama3"
    system, user = request["json"]["messages"]
    assert system["role"] == "system" and "Use only the facts given" in system["content"]
    assert '"impact": "Checkout fails for every customer"' in user["content"]
    assert draft["body"] in user["content"]


def test_a_failing_endpoint_is_a_502_and_the_draft_is_unchanged(api, commanded, responder, llm):
    llm.answers.append((500, "boom"))
    draft = drafted(api, commanded, responder)
    api_error(api.as_user(responder).post(improve_path(commanded, draft)), 502, "upstream_error")
    listed = api.as_user(responder).get(f"/api/incidents/{commanded.number}/communications/")
    assert listed.json()[0]["body"] == draft["body"]


def test_an_unreachable_endpoint_is_a_502(api, commanded, responder, settings):
    settings.LLM_URL, settings.LLM_MODEL = "http://127.0.0.1:9/v1/chat/completions", "llama3"
    draft = drafted(api, commanded, responder)
    api_error(api.as_user(responder).post(improve_path(commanded, draft)), 502, "upstream_error")


def test_unset_it_is_a_409_and_nothing_is_called(api, commanded, responder, settings):
    settings.LLM_URL = ""
    draft = drafted(api, commanded, responder)
    api_error(api.as_user(responder).post(improve_path(commanded, draft)), 409, "conflict")
    fields = api_error(
        api.as_user(responder).post(improve_path(commanded, draft), {"x": 1}, format="json"),
        400,
        "invalid",
    )
    assert set(fields) == {"x"}


def test_stakeholders_may_not_improve(api, commanded, responder, stakeholder, llm):
    draft = drafted(api, commanded, responder)
    api_error(
        api.as_user(stakeholder).post(improve_path(commanded, draft)), 403, "permission_denied"
    )
    assert llm.requests == []
