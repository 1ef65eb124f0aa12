"""Content-Security-Policy: the header on every page, and no inline script in any template."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)
STYLE_BLOCK = re.compile(r"<style\b", re.I)


def templates() -> list[Path]:
    return sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*.html") if ".venv" not in p.parts)


def test_templates_have_no_inline_script_handler_or_style_attribute():
    assert templates(), "no templates found"
    found = []
    for path in templates():
        text = path.read_text(encoding="utf-8")
        for pattern, what in (
            (INLINE_SCRIPT, "inline <script>"),
            (HANDLER, "on*= handler"),
            (STYLE_ATTR, "style= attribute"),
            (STYLE_BLOCK, "inline <style> block"),
        ):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not found, "\n".join(found)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/kiosk/", "/api/docs/", "/nowhere/"])
def test_every_page_carries_the_policy(client, url):
    response = client.get(url)
    policy = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_api_docs_load_their_start_up_script_and_style_from_files(client):
    page = client.get("/api/docs/").content.decode()
    assert not INLINE_SCRIPT.search(page)
    assert "<style" not in page and "/static/css/swagger.css" in page


@pytest.mark.browser
def test_api_docs_render_under_the_policy(page, transactional_db):
    # The page fixture fails the test on any CSP violation the browser reports.
    from tests.browser import screenshot

    page.goto(page.base_url + "/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for(state="visible")
    assert "Departure VAT refund platform API" in page.locator(".swagger-ui .info").inner_text()
    screenshot(page, "api-docs-under-csp", full_page=False)
