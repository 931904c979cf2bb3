"""The portal and the admin show the portal's icon, and `/favicon.ico`, which browsers ask for
by themselves, leads to it rather than to a 404."""

import pytest
from django.urls import reverse

ICON = "/static/img/favicon.svg"
ICON_LINK = f'<link rel="icon" href="{ICON}" type="image/svg+xml">'


def test_favicon_ico_redirects_to_the_icon_for_anyone(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == ICON
    assert "max-age=86400" in response["Cache-Control"]


def test_the_icon_is_served_as_svg(client):
    response = client.get(ICON)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(response.streaming_content)


def test_favicon_ico_takes_no_post(client):
    assert client.post("/favicon.ico").status_code == 405


def test_portal_pages_link_the_icon(client, responder):
    assert ICON_LINK in client.get(reverse("login")).content.decode()
    client.force_login(responder)
    assert ICON_LINK in client.get(reverse("incidents:dashboard")).content.decode()


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:index"),
        reverse("admin:incidents_incident_changelist"),
        reverse("admin:incidents_service_add"),
        reverse("admin:warroom_declarationrule_changelist"),
    ],
)
def test_admin_pages_link_the_icon(signed_in, super_admin, url):
    page = signed_in(super_admin).get(url)

    assert page.status_code == 200
    assert ICON_LINK in page.content.decode()
    assert "ITSM portal administration" in page.content.decode()  # still the portal's admin


def test_the_admin_login_page_links_the_icon(client):
    assert ICON_LINK in client.get(reverse("admin:login")).content.decode()
