"""The Content-Security-Policy and Permissions-Policy headers on every kind of answer, and the
templates and scripts that let the policy be strict: no inline script or style, no event-handler
attributes, no javascript: links. (tests/warroom/test_browser.py checks pages in Chromium.)"""

import re
from pathlib import Path

import pytest
from django.conf import settings

from itsm.roles import Role

TEMPLATES = Path(settings.BASE_DIR) / "templates"
SCRIPTS = Path(settings.BASE_DIR) / "static" / "js"
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": f"'self' {settings.PORTAL_BASE_URL.replace('http', 'ws', 1)}",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
REFUSED_FEATURES = {"camera", "microphone", "geolocation", "payment", "usb"}

# What each kind of answer is: who asks (a signed-in manager, a bearer token, a person without
# a role, nobody), the address, and the status it answers.
ANSWERS = {
    "portal page": ("manager", "/", 200),
    "login page": (None, "/login/", 200),
    "admin page": ("manager", "/admin/", 200),
    "API JSON": ("token", "/api/incidents/", 200),
    "API docs": ("manager", "/api/docs/", 200),
    "API docs script": ("manager", "/api/docs/?script=", 200),
    "static file": (None, "/static/css/portal.css", 200),
    "404 page": ("manager", "/no-such-page/", 404),
    "API 404": ("token", "/api/no-such-endpoint/", 404),
    "403 page": ("norole", "/notifications/", 403),
}


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


@pytest.fixture
def ask(client, api, make_user):
    def run(who, path):
        if who == "token":
            return api.as_user(make_user("tom", roles=[Role.RESPONDER])).get(path)
        if who == "manager":
            client.force_login(make_user("mona", roles=[Role.ITSM_MANAGER], is_staff=True))
        elif who == "norole":
            client.force_login(make_user("norole"))
        return client.get(path)

    return run


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ANSWERS)
def test_every_kind_of_answer_carries_both_policies(ask, kind):
    who, path, status = ANSWERS[kind]

    response = ask(who, path)

    assert response.status_code == status
    assert directives(response["Content-Security-Policy"]) == POLICY
    refused = {
        feature
        for feature, allowed in re.findall(r"([a-z-]+)=\(([^)]*)\)", response["Permissions-Policy"])
        if not allowed
    }
    assert refused >= REFUSED_FEATURES


@pytest.mark.django_db
def test_the_api_docs_page_loads_its_script_as_a_file(ask):
    page = ask("manager", "/api/docs/").content.decode()
    script = ask("manager", "/api/docs/?script=")

    assert '<script src="/api/docs/?script="></script>' in page
    assert not inline_scripts(page) and "<style" not in page
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle({" in script.content


# --- what the policy forbids, kept out of the source ------------------------------------------

TAG = re.compile(r"<[a-zA-Z][^>]*>")
TEMPLATE_CODE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)


def inline_scripts(html: str) -> list[str]:
    return [tag for tag in re.findall(r"<script\b[^>]*>", html) if " src=" not in tag]


def forbidden_in_template(html: str) -> list[str]:
    """Inline scripts and styles, on*= handlers and style= attributes, javascript: links."""
    html = TEMPLATE_CODE.sub(" ", html)
    found = inline_scripts(html) + re.findall(r"<style\b", html)
    for tag in TAG.findall(html):
        found += re.findall(r"\s(on[a-z]+|style)\s*=", tag)
    return found + re.findall(r"javascript:", html, re.I)


# One of each thing forbidden_in_template must find, so the test below can fail.
EVERY_FORBIDDEN_THING = """<script>go()</script><style>p {}</style><p style="x" onclick="go()">
<a href="javascript:go()">go</a><script src="/static/js/ok.js"></script>"""
# What a script could do that the policy blocks: set a style= or on*= attribute, or write HTML
# holding one. (Setting element.style.x through the CSSOM is allowed, and not matched.)
BLOCKED_IN_SCRIPTS = re.compile(r"setAttribute\(\s*[\"'](style|on[a-z]+)[\"']|style=|\bon[a-z]+=\"")


def test_no_template_or_script_has_inline_code_handlers_or_javascript_links():
    assert len(forbidden_in_template(EVERY_FORBIDDEN_THING)) == 5
    in_templates = {
        str(path.relative_to(TEMPLATES)): forbidden
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (forbidden := forbidden_in_template(path.read_text()))
    }
    in_scripts = {
        path.name: BLOCKED_IN_SCRIPTS.findall(text)
        for path in sorted(SCRIPTS.glob("*.js"))
        if BLOCKED_IN_SCRIPTS.search(text := path.read_text())
    }
    assert list(TEMPLATES.rglob("*.html")) and list(SCRIPTS.glob("*.js"))
    assert in_templates == {} and in_scripts == {}
