"""Money as officers read it: 12,800.00 (the shared filter, under the name customs pages load)."""

from __future__ import annotations

from django import template

from core.templatetags.money import rmb

register = template.Library()
register.filter("rmb", rmb)
