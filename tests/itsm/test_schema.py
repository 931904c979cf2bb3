import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer

from itsm.api import views


def test_openapi_schema_is_valid_and_warning_free(tmp_path, db):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")

    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    for path in (
        "/api/incidents/",
        "/api/incidents/{number}/acknowledge/",
        "/api/sla-policies/",
        "/api/schedules/{slug}/oncall/",
        "/api/notifications/",
        "/api/auth-events/",
    ):
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def _counting(monkeypatch, cls, name: str, calls: list) -> list:
    original = getattr(cls, name)

    def counting(self, *args, **kwargs):
        calls.append(cls.__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counting)
    return calls


def test_the_served_schema_is_built_and_rendered_once_per_process(client, monkeypatch, db):
    """Building it took 1.2-2.4 s and rendering the YAML 160-560 ms of every request; the code
    it describes does not change."""
    monkeypatch.setattr(views, "_SCHEMAS", {})
    monkeypatch.setattr(views, "_RENDERED", {})
    built = _counting(monkeypatch, SchemaGenerator, "get_schema", [])
    rendered = _counting(monkeypatch, OpenApiYamlRenderer, "render", [])
    _counting(monkeypatch, OpenApiJsonRenderer, "render", rendered)

    as_yaml = [client.get("/api/schema/", secure=True) for _ in range(2)]
    as_json = [client.get("/api/schema/?format=json", secure=True) for _ in range(2)]

    assert len(built) == 1
    assert rendered == ["OpenApiYamlRenderer", "OpenApiJsonRenderer"]
    assert as_yaml[0].content == as_yaml[1].content
    assert as_json[0].content == as_json[1].content
    assert as_yaml[1]["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert as_json[1]["Content-Type"] == "application/vnd.oai.openapi+json"
    assert as_json[1]["Content-Disposition"] == 'inline; filename="ITSM incident portal API.json"'
    assert yaml.safe_load(as_yaml[1].content) == as_json[1].json()
    assert "/api/incidents/" in as_json[1].json()["paths"]


def test_a_schema_asked_for_with_media_type_parameters_is_rendered_but_not_kept(
    client, monkeypatch, db
):
    """What a client adds to the Accept header must not grow the process's memory."""
    monkeypatch.setattr(views, "_RENDERED", {})
    answer = client.get(
        "/api/schema/", secure=True, headers={"Accept": "application/json; indent=2"}
    )

    assert answer.status_code == 200
    assert "/api/incidents/" in answer.json()["paths"]
    assert views._RENDERED == {}
