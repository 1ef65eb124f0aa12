"""Money and ledger words as every page shows them: 10,527.00; "Refund created — pending"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from core.history import action_words, history_words, status_words
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


@register.filter(name="action_words")
def action_words_filter(action: str) -> str:
    """A ledger action in words, both languages."""
    return action_words(str(action or ""))


@register.filter(name="status_words")
def status_words_filter(status: str) -> str:
    """A status in words, both languages."""
    return status_words(str(status or ""))


@register.filter
def history_row(entry: Any) -> str:
    """A ledger entry (``action``, ``to_status``) as one line of words."""
    return history_words(str(entry.action), entry.to_status or None)
