"""Traveler fixtures: forms of one trip with an email, the phone page, the payout choice."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache

from customs.models import InspectionPolicy
from stores.models import RefundForm
from tests.factories import line, make_form, traveler
from travelers.models import TravelerPage

DOCUMENT = "18AB12345"
EMAIL = "marie@example.com"
ALIPAY = "13800138000"
CHOICE_URL = "/api/v1/travelers/payout-choice/"


@pytest.fixture(autouse=True)
def _fresh_cache(request: Any) -> None:
    # Throttle and form locks count in the cache table.
    if "django_db" in request.keywords or "db" in request.fixturenames:
        request.getfixturevalue("db")
        cache.clear()


@pytest.fixture
def issued(demo: Any) -> Callable[..., RefundForm]:
    """``issued(*lines, email=..., language=...)``: a form at DEMO-SH-001 for 18AB12345."""
    InspectionPolicy.objects.update_or_create(
        port=demo.port, defaults={"seed": "trav", "sample_rate": "0", "threshold": "10000.00"}
    )

    def make(*lines: Any, email: str = "", language: str = "", **kwargs: Any) -> RefundForm:
        who = dataclasses.replace(
            kwargs.pop("who", traveler(document_number=DOCUMENT)), email=email, language=language
        )
        return make_form(demo.store_sh, demo.clerk, *(lines or [line()]), who=who, **kwargs)

    return make


def page_of(form: RefundForm) -> TravelerPage:
    return TravelerPage.objects.get(form=form)


@pytest.fixture
def choose(api: Any) -> Callable[..., Any]:
    """``choose(form, method="alipay", account=ALIPAY, document=DOCUMENT, **extra)``."""

    def call(
        form: Any,
        method: str = "alipay",
        account: str = ALIPAY,
        document: str = DOCUMENT,
        **extra: Any,
    ) -> Any:
        body = {
            "form": form if isinstance(form, str) else form.number,
            "document_number": document,
            "payout_method": method,
            "payout_account": account,
            **extra,
        }
        return api().post(CHOICE_URL, body, format="json")

    return call


# The end-to-end tests' worker fixtures (a throwaway var/ folder, a redis-server).
from tests.core.test_celery_e2e import redis_url, var_dir  # noqa: E402, F401
