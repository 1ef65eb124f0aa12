"""Kiosk fixtures: forms at DEMO-SH-001 for the demo traveler, and the lookup call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache

from customs.models import InspectionPolicy
from stores.models import RefundForm
from tests.factories import line, make_form, traveler

DOCUMENT = "18AB12345"
URL = "/api/v1/kiosk/lookup/"


@pytest.fixture(autouse=True)
def _fresh_throttle(request: Any) -> None:
    # The throttle counts in the cache (a database table: rolled back with each test's
    # transaction, but a transactional test's writes would outlive it).
    if "django_db" in request.keywords or "db" in request.fixturenames:
        request.getfixturevalue("db")
        cache.clear()


@pytest.fixture
def issued(demo: Any) -> Callable[..., RefundForm]:
    """``issued(*lines)``: a fresh form at DEMO-SH-001 for passport 18AB12345."""
    InspectionPolicy.objects.update_or_create(
        port=demo.port, defaults={"seed": "kiosk", "sample_rate": "0", "threshold": "10000.00"}
    )

    def make(*lines: Any, **kwargs: Any) -> RefundForm:
        kwargs.setdefault("who", traveler(document_number=DOCUMENT))
        return make_form(demo.store_sh, demo.clerk, *(lines or [line()]), **kwargs)

    return make


@pytest.fixture
def lookup(api: Any) -> Callable[..., Any]:
    """``lookup(form, document, lang=None)`` -> the anonymous API response."""

    def call(form: Any, document: Any = DOCUMENT, lang: str | None = None) -> Any:
        body: dict[str, Any] = {"form": form, "document_number": document}
        if lang:
            body["lang"] = lang
        return api().post(URL, body, format="json")

    return call
