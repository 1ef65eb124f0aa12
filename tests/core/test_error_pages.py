"""Styled error pages (production and the demo), the home page's log-in link, a favicon."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_404_is_the_styled_page_not_a_url_list(client):
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Page not found <small>页面不存在</small>" in page
    assert "/static/css/app.css" in page and "Using the URLconf" not in page


def test_403_is_the_styled_page(client, demo):
    client.force_login(demo.officer)
    response = client.get("/store/")
    page = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed <small>无权访问</small>" in page and "officer" in page


@override_settings(DEBUG=False)
def test_500_is_the_styled_page(demo, monkeypatch):
    from core import views

    def boom(request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "render", lambda *a, **k: boom(None))
    response = Client(raise_request_exception=False).get("/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong <small>系统出错</small>" in page


def test_the_demo_runs_without_debug_pages():
    start = (Path(__file__).resolve().parents[2] / "scripts" / "start").read_text("utf-8")
    assert "export DJANGO_DEBUG=${DJANGO_DEBUG:-false}" in start


def test_home_page_has_a_log_in_link(client):
    page = client.get("/").content.decode()
    assert 'id="login-link" href="/accounts/login/"' in page


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
