"""Pure customs rules: departure warnings, the seeded inspection draw, risk rule matching.

No database access: selectors gather the facts, services record the outcome.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from core.money import quantize_money
from core.rules import MAX_PURCHASE_TO_DEPARTURE_DAYS, MAX_STAY_DAYS

DRAW_PLACES = Decimal("0.000001")


def rmb(value: Decimal) -> str:
    """12,800.00: how amounts read in a reason."""
    return f"{quantize_money(value):,.2f}"


def departure_warnings(
    *, departure_date: date, last_entry_date: date, purchase_date: date
) -> list[dict[str, Any]]:
    """What agency checks D and E will refuse for this departure: told, never enforced here."""
    warnings: list[dict[str, Any]] = []
    stay = (departure_date - last_entry_date).days
    if stay > MAX_STAY_DAYS:
        warnings.append(
            {
                "code": "stay_over_183_days",
                "check": "D",
                "days": stay,
                "limit": MAX_STAY_DAYS,
                "message": (
                    f"Departure is {stay} days after the last entry (limit {MAX_STAY_DAYS}):"
                    " the agency will refuse the refund."
                ),
            }
        )
    gap = (departure_date - purchase_date).days
    if gap > MAX_PURCHASE_TO_DEPARTURE_DAYS:
        warnings.append(
            {
                "code": "purchase_over_90_days",
                "check": "E",
                "days": gap,
                "limit": MAX_PURCHASE_TO_DEPARTURE_DAYS,
                "message": (
                    f"The purchase was {gap} days before departure"
                    f" (limit {MAX_PURCHASE_TO_DEPARTURE_DAYS}): the agency will refuse the refund."
                ),
            }
        )
    return warnings


def sample_draw(seed: str, form_number: str) -> Decimal:
    """A uniform draw in [0, 1) derived from HMAC-SHA256(seed, form number), 6 places.

    Same seed and form, same draw: the selection is reproducible and auditable,
    yet unpredictable to anyone without the port's seed.
    """
    digest = hmac.new(seed.encode(), form_number.encode(), hashlib.sha256).digest()
    value = Decimal(int.from_bytes(digest[:8], "big")) / Decimal(2**64)
    return value.quantize(DRAW_PLACES, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class RiskFacts:
    """What the risk rules look at for one form."""

    total: Decimal
    nationality: str
    store_code: str
    items: Sequence[tuple[str, Decimal]]
    forms_same_document_day: int = 1
    document_open_total: Decimal = Decimal("0")


@dataclass(frozen=True)
class RiskRuleSpec:
    """A risk rule as plain values."""

    id: int
    name: str
    kind: str
    amount: Decimal | None
    values: Sequence[str]


def risk_rule_hit(rule: RiskRuleSpec, facts: RiskFacts) -> str | None:
    """A human reason when the rule matches the form, else None."""
    amount = rule.amount or Decimal("0")
    if rule.kind == "forms_per_document_day":
        if facts.forms_same_document_day >= amount:
            return (
                f"{facts.forms_same_document_day} forms for this document on one day"
                f" (rule: {int(amount)} or more)"
            )
    elif rule.kind == "document_open_total":
        if facts.document_open_total >= amount:
            return (
                f"RMB {rmb(facts.document_open_total)} on this document's open forms"
                f" (rule: {rmb(amount)} or more)"
            )
    elif rule.kind == "line_total":
        for item, total in facts.items:
            if total >= amount:
                return f"{item}: RMB {rmb(total)} (rule: a line of {rmb(amount)} or more)"
    elif rule.kind == "item_keyword":
        for item, _ in facts.items:
            lowered = item.casefold()
            for keyword in rule.values:
                if keyword.casefold() in lowered:
                    return f"item '{item}' matches '{keyword}'"
    elif rule.kind == "nationality":
        if facts.nationality.upper() in {v.upper() for v in rule.values}:
            return f"nationality {facts.nationality.upper()}"
    elif rule.kind == "store":
        if facts.store_code.upper() in {v.upper() for v in rule.values}:
            return f"store {facts.store_code}"
    return None


@dataclass(frozen=True)
class InspectionOutcome:
    """Selected or not, with the reason code, a human detail and the rule that fired."""

    selected: bool
    reason: str
    detail: str
    rule_id: int | None
    draw: Decimal


def inspection_outcome(
    *,
    facts: RiskFacts,
    threshold: Decimal,
    sample_rate: Decimal,
    draw: Decimal,
    rules: Sequence[RiskRuleSpec],
) -> InspectionOutcome:
    """Threshold first, then the risk rules in order, then the random sample."""
    if facts.total >= threshold:
        return InspectionOutcome(
            True,
            "threshold",
            f"Total RMB {rmb(facts.total)} is at or over RMB {rmb(threshold)}:"
            " inspect item by item.",
            None,
            draw,
        )
    for rule in rules:
        hit = risk_rule_hit(rule, facts)
        if hit:
            return InspectionOutcome(True, "risk_rule", f"{rule.name}: {hit}.", rule.id, draw)
    if draw < sample_rate:
        return InspectionOutcome(
            True,
            "random_sample",
            f"Random sample: draw {draw} under rate {sample_rate.normalize()}.",
            None,
            draw,
        )
    return InspectionOutcome(
        False,
        "not_selected",
        f"Below RMB {rmb(threshold)}, no risk rule matched, random draw {draw}"
        f" not under rate {sample_rate.normalize()}.",
        None,
        draw,
    )
