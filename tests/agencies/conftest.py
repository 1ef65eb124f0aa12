"""Agency fixtures: verified forms ready to refund, payout accounts for the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from stdnum import luhn

from customs.services import verification_create
from stores.models import RefundForm
from tests.factories import line, make_form, traveler

DOCUMENT = "18AB12345"


def card_ending(suffix: str, prefix: str = "622202") -> str:
    """A Luhn-valid 16-digit card number ending in ``suffix`` (the sandbox's test accounts)."""
    width = 16 - len(prefix) - len(suffix)
    for middle in range(10**width):
        number = f"{prefix}{middle:0{width}d}{suffix}"
        if luhn.is_valid(number):
            return number
    raise AssertionError("no Luhn-valid number found")


GOOD_CARD = card_ending("1234")
DECLINED_CARD = card_ending("0002")
LOST_ANSWER_CARD = card_ending("0003")
UNAVAILABLE_ONCE_CARD = card_ending("0004")


def verify(
    form: RefundForm,
    demo: Any,
    *,
    quantities: dict[int, Decimal] | None = None,
    departure: date | None = None,
    channel: str = "counter",
    port: Any = None,
    officer: Any = None,
) -> RefundForm:
    """Customs verifies the form at PVG or ``port`` (all presented unless ``quantities``)."""
    verification_create(
        port=port or demo.port,
        officer=officer or demo.officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=departure or timezone.localdate(),
        quantities=quantities,
        channel=channel,
    )
    form.refresh_from_db()
    return form


@pytest.fixture
def verified_form(demo: Any) -> Callable[..., RefundForm]:
    """``verified_form(*lines, quantities=..., channel=...)``: issued at DEMO-SH-001, verified."""

    def make(*lines: Any, channel: str = "counter", **kwargs: Any) -> RefundForm:
        form = make_form(demo.store_sh, demo.clerk, *(lines or [line()]), who=traveler())
        return verify(form, demo, channel=channel, **kwargs)

    return make
