"""Service impact analysis: who depends on a service, directly or through others, and how many
users an outage reaches, each service counted once."""

import pytest

from incidents.selectors import affected_users_for, service_impact
from tests.conftest import api_error
from tests.factories import ServiceFactory

AUTH = 1  # the token with its user (the permissions are cached after the first request)


def make_service(slug: str, users: int, *, depends_on=()):
    service = ServiceFactory(slug=slug, user_count=users)
    service.depends_on.set(depends_on)
    return service


def downstream(impact) -> list[tuple[str, int]]:
    return [(row.service.slug, row.depth) for row in impact.downstream]


def chain(length: int):
    """db ← api-1 ← api-2 ← … : each service depends on the one before; 10 users each."""
    services = [make_service("db", 10)]
    for i in range(1, length):
        services.append(make_service(f"api-{i}", 10, depends_on=[services[-1]]))
    return services


def test_a_chain_reaches_every_service_that_depends_on_it_through_others(db):
    db_, api1, api2 = chain(3)

    impact = service_impact(service=db_)

    assert downstream(impact) == [("api-1", 1), ("api-2", 2)]
    assert impact.affected_users == 30
    assert service_impact(service=api1).affected_users == 20
    assert downstream(service_impact(service=api2)) == []


def test_a_diamond_counts_the_service_reached_twice_once(db):
    storage = make_service("storage", 100)
    left = make_service("left", 20, depends_on=[storage])
    right = make_service("right", 30, depends_on=[storage])
    make_service("portal", 7, depends_on=[left, right])

    impact = service_impact(service=storage)

    assert downstream(impact) == [("left", 1), ("right", 1), ("portal", 2)]
    assert impact.affected_users == 100 + 20 + 30 + 7


def test_a_cycle_ends_and_counts_each_service_once(db):
    a = make_service("a", 1)
    b = make_service("b", 2, depends_on=[a])
    c = make_service("c", 4, depends_on=[b])
    a.depends_on.add(c)

    impact = service_impact(service=a)

    assert downstream(impact) == [("b", 1), ("c", 2)]
    assert impact.affected_users == 7
    assert affected_users_for([a, b, c]) == 7


def test_a_service_nothing_depends_on_affects_its_own_users(db):
    lonely = make_service("lonely", 12)
    make_service("upstream", 500).dependents.add(lonely)  # lonely needs it; not the reverse

    impact = service_impact(service=lonely)

    assert impact.downstream == []
    assert impact.affected_users == 12


def test_an_incidents_services_count_the_union_of_what_they_reach(db):
    storage = make_service("storage", 100)
    left = make_service("left", 20, depends_on=[storage])
    right = make_service("right", 30)
    make_service("portal", 7, depends_on=[left, right])
    make_service("elsewhere", 1000)

    assert affected_users_for([storage, right]) == 100 + 20 + 30 + 7
    assert affected_users_for([left, right]) == 20 + 30 + 7
    assert affected_users_for([]) == 0


@pytest.mark.parametrize("length", [2, 12])
def test_the_analysis_costs_two_queries_at_any_depth(db, django_assert_num_queries, length):
    services = chain(length)
    with django_assert_num_queries(2):  # every edge; the downstream services
        impact = service_impact(service=services[0])
    assert len(impact.downstream) == length - 1
    with django_assert_num_queries(2):  # every edge; the sum
        assert affected_users_for(services[:1]) == 10 * length


# --- GET /api/services/{slug}/impact/ ----------------------------------------------------------


def test_the_impact_endpoint_lists_downstream_services_and_the_user_total(api, stakeholder):
    storage = make_service("storage", 100)
    left = make_service("left", 20, depends_on=[storage])
    make_service("portal", 7, depends_on=[left])

    response = api.as_user(stakeholder).get("/api/services/storage/impact/")

    assert response.status_code == 200
    assert response.json() == {
        "service": "storage",
        "user_count": 100,
        "downstream": [
            {"slug": "left", "name": "Left", "user_count": 20, "depth": 1},
            {"slug": "portal", "name": "Portal", "user_count": 7, "depth": 2},
        ],
        "affected_users": 127,
    }


@pytest.mark.parametrize("length", [2, 12])
def test_the_impact_endpoint_costs_the_same_at_any_depth(
    api, responder, django_assert_num_queries, length
):
    chain(length)
    client = api.as_user(responder)
    client.get("/api/services/")  # the token's first use is recorded once
    with django_assert_num_queries(AUTH + 1 + 2):  # the service; every edge; downstream
        response = client.get("/api/services/db/impact/")
    assert response.json()["affected_users"] == 10 * length


def test_an_unknown_service_is_404(api, responder):
    api_error(api.as_user(responder).get("/api/services/nope/impact/"), 404, "not_found")


def test_someone_who_may_not_read_services_is_refused(api, nobody, service):
    api_error(
        api.as_user(nobody).get(f"/api/services/{service.slug}/impact/"), 403, "permission_denied"
    )


def test_an_anonymous_caller_is_refused(api, service):
    api_error(api.get(f"/api/services/{service.slug}/impact/"), 401, "not_authenticated")
