import yaml
from django.core.management import call_command


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
