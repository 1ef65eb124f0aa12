"""The demo directory of SPEC §4, created idempotently by ``manage.py seed_demo``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from core.models import Agency, AgencyFeeRate, BuyAndRefundWindow, Port, StaffMembership, Store

# Later apps add their demo records here at start-up (core imports none of them):
# each hook runs inside ``demo_seed``'s transaction and returns counts for its summary.
DEMO_HOOKS: list[Callable[[], dict[str, int]]] = []


def demo_hook_register(hook: Callable[[], dict[str, int]]) -> None:
    """Add a later app's demo seeding to ``seed_demo`` (once, whatever the calls)."""
    if hook not in DEMO_HOOKS:
        DEMO_HOOKS.append(hook)


@transaction.atomic
def demo_seed() -> dict[str, int]:
    """Two agencies, two ports, two stores and the demo users of SPEC §4; safe to run again."""
    agency, _ = Agency.objects.update_or_create(
        code="DEMO-AGENCY", defaults={"name": "示范退税代理机构", "name_en": "Demo Refund Agency"}
    )
    AgencyFeeRate.objects.update_or_create(
        agency=agency, effective_from=date(2015, 1, 1), defaults={"rate": Decimal("0.02")}
    )
    port, _ = Port.objects.update_or_create(
        code="PVG",
        defaults={
            "name": "上海浦东国际机场 Shanghai Pudong International Airport",
            "city": "Shanghai",
            "region_code": "31",
            "has_mailbox": True,
            "agency": agency,
        },
    )
    sh, _ = Store.objects.update_or_create(
        code="DEMO-SH-001",
        defaults={
            "name": "上海示范百货 Demo Department Store",
            "name_en": "Demo Department Store Shanghai",
            "taxpayer_id": "91310000MA1FL0DEMO",
            "region_code": "31",
            "city": "Shanghai",
            "address": "上海市黄浦区南京东路100号 100 East Nanjing Road, Huangpu, Shanghai",
            "buy_and_refund": True,
            "serving_agency": agency,
        },
    )
    agency2, _ = Agency.objects.update_or_create(
        code="DEMO-AGENCY-2",
        defaults={"name": "示范退税代理机构二", "name_en": "Demo Refund Agency 2"},
    )
    AgencyFeeRate.objects.update_or_create(
        agency=agency2, effective_from=date(2015, 1, 1), defaults={"rate": Decimal("0.02")}
    )
    port2, _ = Port.objects.update_or_create(
        code="PEK",
        defaults={
            "name": "北京首都国际机场 Beijing Capital International Airport",
            "city": "Beijing",
            "region_code": "11",
            "has_mailbox": False,
            "buy_and_refund_designated": True,
            "agency": agency2,
        },
    )
    bj, _ = Store.objects.update_or_create(
        code="DEMO-BJ-001",
        defaults={
            "name": "北京示范商场 Demo Mall Beijing",
            "name_en": "Demo Mall Beijing",
            "taxpayer_id": "91110000MA01DEMO01",
            "region_code": "11",
            "city": "Beijing",
            "address": "北京市东城区王府井大街1号 1 Wangfujing Street, Dongcheng, Beijing",
            "buy_and_refund": False,
            "serving_agency": agency2,
        },
    )
    BuyAndRefundWindow.objects.get_or_create(
        region_code="31",
        effective_from=date(2025, 4, 27),
        defaults={"days": 17, "source": "Shanghai Buy & Refund pilot (since 2020): 17 days."},
    )
    # As migration core/0005 seeds it (again here after a test flush): reported, see README.
    BuyAndRefundWindow.objects.get_or_create(
        region_code__isnull=True,
        effective_from=date(2026, 7, 1),
        defaults={
            "region_code": None,
            "days": 28,
            "source": "Reported for 'departure tax refund 2.0' (nationwide from 2026-07-01);"
            " not yet read in a primary text.",
        },
    )
    User = get_user_model()
    password = settings.DEMO_PASSWORD
    people: list[tuple[str, dict[str, Any]]] = [
        ("clerk", {"role": "clerk", "store": sh}),
        ("clerk2", {"role": "clerk", "store": bj}),
        ("officer", {"role": "officer", "port": port}),
        ("officer2", {"role": "officer", "port": port2}),
        ("agent", {"role": "agent", "agency": agency}),
        ("agent2", {"role": "agent", "agency": agency2}),
        ("analyst", {"role": "analyst"}),
    ]
    for username, place in people:
        user = _demo_user(username, password, superuser=False)
        defaults = {"store": None, "port": None, "agency": None, **place}
        StaffMembership.objects.update_or_create(user=user, defaults=defaults)
    _demo_user("admin", password, superuser=True)
    counts = {
        "agencies": Agency.objects.filter(code__in=["DEMO-AGENCY", "DEMO-AGENCY-2"]).count(),
        "ports": Port.objects.filter(code__in=["PVG", "PEK"]).count(),
        "stores": Store.objects.filter(code__in=["DEMO-SH-001", "DEMO-BJ-001"]).count(),
        "users": User.objects.filter(username__in=[*DEMO_USERNAMES]).count(),
    }
    for hook in DEMO_HOOKS:
        counts.update(hook())
    return counts


DEMO_USERNAMES = (
    "clerk",
    "clerk2",
    "officer",
    "officer2",
    "agent",
    "agent2",
    "analyst",
    "admin",
)


def _demo_user(username: str, password: str, *, superuser: bool) -> Any:
    """The demo user, active, with the demo password; rehashed only when it differs.

    Leaving a matching hash alone keeps running sessions valid across restarts
    (Django ties a session to the password hash).
    """
    user, _ = get_user_model().objects.get_or_create(username=username)
    changed = False
    if not user.check_password(password):
        user.set_password(password)
        changed = True
    for field, value in (("is_active", True), ("is_staff", superuser), ("is_superuser", superuser)):
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    if changed:
        user.save()
    return user
