"""Money as officers read it: 12,800.00."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from core.money import quantize_money

register = template.Library()


@register.filter
def rmb(value: Any) -> str:
    """Two decimals with thousands separators; blank for None."""
    if value is None or value == "":
        return ""
    try:
        amount = quantize_money(Decimal(str(value)))
    except InvalidOperation:
        return str(value)
    return f"{amount:,.2f}"
