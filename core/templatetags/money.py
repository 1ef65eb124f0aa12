"""Money and ledger words as every page shows them: 10,527.00; "Refund created — pending"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from core.money import money_display

register = template.Library()


@register.filter
def rmb(value: Any) -> str:
    """Two decimals with thousands separators (10,527.00); blank for None."""
    if value is None or value == "":
        return ""
    try:
        return money_display(Decimal(str(value)))
    except InvalidOperation:
        return str(value)
