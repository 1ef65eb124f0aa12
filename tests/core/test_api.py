"""API conventions: token auth, one error shape for every error, the schema and docs."""

from __future__ import annotations

import pytest

from core.api.errors import error_body

SHAPE = {"code", "message", "extra"}
DEMO_USERS = ["clerk", "clerk2", "officer", "agent", "admin"]


def assert_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == SHAPE
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["extra"], dict)
    return body


@pytest.mark.urls("tests.core.urls_idem")
@pytest.mark.parametrize("username", DEMO_USERS)
def test_every_demo_user_gets_a_token(demo, api, username):
    response = api().post(
        "/api/v1/auth/token/",
        {"username": username, "password": "refund-demo-2026"},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert len(token) == 40
    # asking again gives the same token, and the token authenticates
    again = api().post(
        "/api/v1/auth/token/", {"username": username, "password": "refund-demo-2026"}
    )
    assert again.json()["token"] == token
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/test/errors/missing/").status_code == 404  # not 401


def test_wrong_password_is_a_401_in_the_shared_shape(demo, api):
    response = api().post(
        "/api/v1/auth/token/", {"username": "clerk", "password": "wrong"}, format="json"
    )
    body = assert_shape(response, 401, "invalid_credentials")
    assert body["message"] == "Unable to log in with provided credentials."


def test_missing_field_is_a_validation_error_naming_it(db, api):
    response = api().post("/api/v1/auth/token/", {"username": "clerk"}, format="json")
    body = assert_shape(response, 400, "invalid")
    assert body["message"] == "password: This field is required."
    assert body["extra"] == {"fields": {"password": ["This field is required."]}}


def test_malformed_json_is_a_400(db, api):
    response = api().post(
        "/api/v1/auth/token/", '{"username": "clerk",', content_type="application/json"
    )
    body = assert_shape(response, 400, "malformed_request")
    assert "JSON parse error" in body["message"]


def test_unknown_url_under_the_api_is_a_json_404(db, api):
    response = api().get("/api/v1/no-such-thing/")
    body = assert_shape(response, 404, "not_found")
    assert body["extra"] == {"path": "/api/v1/no-such-thing/"}


def test_unknown_url_under_the_api_is_json_even_with_debug_on(db, api, settings):
    settings.DEBUG = True  # local runs: Django would answer its HTML debug page
    for path in ("/api/v1/no-such-thing/", "/api/v1/forms", "/api/v2/"):
        body = assert_shape(api().post(path, {}, format="json"), 404, "not_found")
        assert body["extra"] == {"path": path}


def test_unknown_page_outside_the_api_stays_html(db, client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_method_not_allowed(db, api):
    body = assert_shape(api().get("/api/v1/auth/token/"), 405, "method_not_allowed")
    assert body["message"] == 'Method "GET" not allowed.'


def test_unsupported_media_type(db, api):
    response = api().post("/api/v1/auth/token/", "x", content_type="text/csv")
    assert_shape(response, 415, "unsupported_media_type")


@pytest.mark.urls("tests.core.urls_idem")
def test_no_token_is_a_401(db, api):
    response = api().post("/api/v1/test/agencies/", {"code": "X", "name": "X"}, format="json")
    assert_shape(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.urls("tests.core.urls_idem")
def test_bad_token_is_a_401(db, api):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.post("/api/v1/test/agencies/", {"code": "X"}, format="json")
    assert_shape(response, 401, "authentication_failed")


@pytest.mark.urls("tests.core.urls_idem")
@pytest.mark.parametrize(
    ("kind", "status", "code", "extra"),
    [
        ("rule", 422, "below_minimum", {"minimum": "200.00"}),
        ("conflict", 409, "already_verified", {}),
        ("missing", 404, "not_found", {}),
        ("forbidden", 403, "permission_denied", {}),
        ("django-validation", 400, "invalid", {"fields": {"quantity": ["Must be positive."]}}),
        ("django-404", 404, "not_found", {}),
    ],
)
def test_domain_errors_keep_their_status_and_code(demo, api, kind, status, code, extra):
    response = api(demo.clerk).get(f"/api/v1/test/errors/{kind}/")
    body = assert_shape(response, status, code)
    assert body["extra"] == extra


def test_error_body_helper():
    assert error_body("x", "y") == {"code": "x", "message": "y", "extra": {}}


def test_schema_lists_the_api(db, client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/auth/token/" in schema["paths"]
    assert "/api/v1/keys/" in schema["paths"]
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert "requestBody" in token


def test_docs_page_serves_swagger_ui_without_a_cdn(db, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_post_to_an_unknown_api_address_is_a_json_404_not_a_csrf_page(demo, api):
    response = api(demo.clerk).post("/api/v1/no-such-thing/", {"a": 1}, format="json")
    assert_shape(response, 404, "not_found")
