import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

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


def test_the_served_schema_is_built_once_per_process(client, monkeypatch, db):
    """Building it took 1.2-2.4 s of every request; the code it describes does not change."""
    monkeypatch.setattr(views, "_SCHEMAS", {})
    built = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        built.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    as_yaml = [client.get("/api/schema/") for _ in range(2)]
    as_json = client.get("/api/schema/?format=json")

    assert len(built) == 1
    assert as_yaml[0].content == as_yaml[1].content
    assert yaml.safe_load(as_yaml[0].content) == as_json.json()
    assert "/api/incidents/" in as_json.json()["paths"]
