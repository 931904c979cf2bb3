"""The ASGI application is ready to answer when it is imported, not on its first request."""

import json
import os
import subprocess
import sys

from django.conf import settings

IMPORTED = (
    "import json, sys; import itsm.asgi; "
    "print(json.dumps([m in sys.modules for m in ('itsm.urls', 'incidents.api.views')]))"
)


def test_importing_the_application_imports_the_url_configuration_and_the_views():
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED],
        cwd=settings.BASE_DIR,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    assert json.loads(done.stdout.splitlines()[-1]) == [True, True]
