"""Passwords: at least 12 characters (Django's common-password and similarity checks stay)."""

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

ADD_USER = "/admin/auth/user/add/"


def add_user(client, username, password):
    return client.post(
        ADD_USER,
        {
            "username": username,
            "password1": password,
            "password2": password,
            "usable_password": "true",
        },
    )


def test_the_admin_refuses_a_password_under_twelve_characters(signed_in, super_admin):
    client = signed_in(super_admin)

    refused = add_user(client, "newcomer", "blue-sky-42")  # 11 characters
    accepted = add_user(client, "newcomer", django_settings.DEMO_PASSWORD)

    assert refused.status_code == 200
    assert "at least 12 characters" in refused.content.decode()
    assert accepted.status_code == 302
    assert (
        get_user_model()
        .objects.get(username="newcomer")
        .check_password(django_settings.DEMO_PASSWORD)
    )
