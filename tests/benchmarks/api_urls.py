"""The project's URLs plus the benchmark's other implementations of the incident list and
detail (`tests.benchmarks.api_variants`): served only by `tests.benchmarks.api_asgi`."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from itsm.urls import *  # noqa: F403 - the project's error handlers
from itsm.urls import urlpatterns as project_urlpatterns
from tests.benchmarks import api_variants

router = SimpleRouter()
router.register("incidents", api_variants.StockIncidentViewSet, basename="bench-drf-incident")

urlpatterns = [
    path("bench/limit/incidents/", api_variants.limit_list),
    path("bench/limit/incidents/<str:number>/", api_variants.limit_detail),
    path("bench/drf/", include(router.urls)),
    *project_urlpatterns,
]
