"""The project's ASGI application serving `tests.benchmarks.api_urls`: the API as it is, plus
the limit and stock-DRF implementations `bench_api` measures it against."""

from django.conf import settings

from itsm.asgi import application  # noqa: F401 - served by this module's name

settings.ROOT_URLCONF = "tests.benchmarks.api_urls"
