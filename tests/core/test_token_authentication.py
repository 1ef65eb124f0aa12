"""Token authentication: one prepared statement brings the token, its user and the
user's membership with its store, port and agency; DRF's answers for a bad token."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import exceptions
from rest_framework.authtoken.models import Token

from core.api.authentication import TokenAuthentication
from core.selectors import membership_of

pytestmark = pytest.mark.django_db


def authenticate(key: str):
    return TokenAuthentication().authenticate_credentials(key)


@pytest.mark.parametrize(
    ("name", "store", "port", "agency"),
    [
        ("clerk", "DEMO-SH-001", None, None),
        ("officer", None, "PVG", None),
        ("agent", None, None, "DEMO-AGENCY"),
    ],
)
def test_one_statement_brings_user_membership_and_its_place(demo, name, store, port, agency):
    user = getattr(demo, name)
    token, _ = Token.objects.get_or_create(user=user)
    with CaptureQueriesContext(connection) as queries:
        found_user, found_token = authenticate(token.key)
        membership = membership_of(found_user)
        assert membership is not None
        places = (
            membership.store.code if membership.store else None,
            membership.port.code if membership.port else None,
            membership.agency.code if membership.agency else None,
        )
    assert len(queries) == 1
    assert found_token.key == token.key and found_token.user is found_user
    assert found_user.pk == user.pk and found_user.username == user.username
    assert places == (store, port, agency)
    assert membership.user_id == user.pk


def test_a_user_without_membership_is_known_to_have_none_without_a_query(demo):
    token, _ = Token.objects.get_or_create(user=demo.admin)
    with CaptureQueriesContext(connection) as queries:
        user, _ = authenticate(token.key)
        assert membership_of(user) is None
    assert len(queries) == 1
    assert user.is_superuser


def test_an_unknown_token_is_refused(demo):
    Token.objects.get_or_create(user=demo.clerk)
    with pytest.raises(exceptions.AuthenticationFailed, match="Invalid token"):
        authenticate("0" * 40)


def test_an_inactive_users_token_is_refused(demo):
    token, _ = Token.objects.get_or_create(user=demo.clerk)
    demo.clerk.is_active = False
    demo.clerk.save(update_fields=["is_active"])
    with pytest.raises(exceptions.AuthenticationFailed, match="inactive"):
        authenticate(token.key)


def test_over_http_a_bad_token_is_401_and_a_good_one_reaches_the_view(demo, api):
    client = api(demo.clerk)
    assert client.get("/api/v1/forms/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token " + "f" * 40)
    refused = client.get("/api/v1/forms/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
    assert refused.json()["message"] == "Invalid token."
