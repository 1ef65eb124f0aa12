"""Customs fixtures: forms to verify, a seeded inspection policy at PVG."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from core.models import Port
from customs.models import InspectionPolicy
from stores.models import RefundForm
from tests.factories import PortFactory, line, make_form, traveler

SEED = "customs-test-seed"


@pytest.fixture
def pvg_policy(demo: Any) -> InspectionPolicy:
    """PVG with a known seed and no random sampling, so tests choose when forms are drawn."""
    policy, _ = InspectionPolicy.objects.update_or_create(
        port=demo.port, defaults={"seed": SEED, "sample_rate": "0", "threshold": "10000.00"}
    )
    return policy


@pytest.fixture
def issued(demo: Any, pvg_policy: InspectionPolicy) -> Callable[..., RefundForm]:
    """``issued(*lines, who=..., issued_on=...)``: a form at DEMO-SH-001."""

    def make(*lines: Any, **kwargs: Any) -> RefundForm:
        kwargs.setdefault("who", traveler())
        return make_form(demo.store_sh, demo.clerk, *(lines or [line()]), **kwargs)

    return make


def line_ids(form: RefundForm) -> list[int]:
    return list(form.lines.order_by("position").values_list("pk", flat=True))


def new_port(code: str, region_code: str = "31", has_mailbox: bool = True) -> Port:
    """Another port (typed as a Port for mypy)."""
    port = PortFactory(code=code, region_code=region_code, has_mailbox=has_mailbox)
    return cast(Port, port)
