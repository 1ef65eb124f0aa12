"""The refund rules engine: pure, typed functions with no database access.

Sources: MoF/SAT/GACC 2015 No.3 and No.41 (Measures art. 10), 2019 No.39,
SAT 2025 No.9 and No.11, the SAT foreigners' FAQ Q36-Q38. Every app calls
these; the database only supplies the facts (policies, invoices, dates).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice, permutations
from typing import Any, TypeVar

from core.money import ZERO, quantize_money, rate_pct, rate_str

MAX_STAY_DAYS = 183
MAX_PURCHASE_TO_DEPARTURE_DAYS = 90

DOCUMENT_TYPES = ("passport", "hk_macao_permit", "taiwan_permit")
# Who may present which document: mainland residents (CN) are never eligible.
PERMIT_NATIONALITIES = {"hk_macao_permit": {"HK", "MO"}, "taiwan_permit": {"TW"}}


@dataclass(frozen=True)
class Policy:
    """The refund policy in force from a date (SPEC §2 policy history)."""

    effective_from: date
    minimum_amount: Decimal
    cash_cap: Decimal
    refund_rates: Mapping[Decimal, Decimal]

    def refund_rate_for(self, vat_rate: Decimal) -> Decimal | None:
        """The refund rate for goods at this VAT rate, or None: no refund at that rate."""
        return self.refund_rates.get(vat_rate.normalize())


@dataclass(frozen=True)
class Dated:
    """A value effective from a date (agency fee rates, regional windows)."""

    effective_from: date
    value: Decimal


class NoPolicyInForce(LookupError):
    """No effective-dated row covers the date asked for."""


_Row = TypeVar("_Row", Policy, Dated)


def in_force(rows: Sequence[_Row], on: date) -> _Row:
    """The row with the latest effective_from on or before ``on``."""
    best: _Row | None = None
    for row in rows:
        if row.effective_from <= on and (best is None or row.effective_from > best.effective_from):
            best = row
    if best is None:
        raise NoPolicyInForce(f"nothing in force on {on.isoformat()}")
    return best


@dataclass(frozen=True)
class Window:
    """A Buy & Refund departure window from a date; ``region_code`` None is nationwide."""

    effective_from: date
    days: int
    region_code: str | None = None


def window_in_force(rows: Iterable[Window], *, region_code: str, on: date) -> Window | None:
    """The window a purchase on ``on`` in ``region_code`` gets (SPEC §2 Buy & Refund 2).

    Among the region's own rows and the nationwide rows, the one with the latest
    ``effective_from`` on or before ``on``; on the same date the regional row wins.
    None when no row is in force.
    """
    best: Window | None = None
    for row in rows:
        if row.region_code not in (None, region_code) or row.effective_from > on:
            continue
        if (
            best is None
            or row.effective_from > best.effective_from
            or (row.effective_from == best.effective_from and row.region_code is not None)
        ):
            best = row
    return best


# --- Violations ---------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One rule failure with its SPEC §4 error code."""

    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TravelerFacts:
    """The traveler as presented at the counter."""

    document_type: str
    nationality: str
    last_entry_date: date | None
    # None: not recorded (forms from before expiry was recorded; the API may omit it).
    document_expires_on: date | None = None


def document_expired(expires_on: date | None, on: date) -> bool:
    """Whether a document has expired on ``on``: it is valid through its expiry date.

    An unknown expiry (None) is not treated as expired: the store page requires
    the date, the API takes it when the POS has it.
    """
    return expires_on is not None and expires_on < on


def document_expired_violation(expires_on: date | None, on: date) -> Violation | None:
    """SPEC §2 Valid document: 422 ``document_expired`` when expired on the purchase date."""
    if expires_on is None or not document_expired(expires_on, on):
        return None
    return Violation(
        "document_expired",
        f"The document expired on {expires_on.isoformat()}, before the purchase date"
        f" {on.isoformat()}: an expired document is not valid for a refund.",
        {"document_expires_on": expires_on.isoformat(), "purchase_date": on.isoformat()},
    )


@dataclass(frozen=True)
class LineFacts:
    """One goods line: VAT-inclusive total at a VAT rate."""

    vat_rate: Decimal
    total: Decimal
    item: str = ""


@dataclass(frozen=True)
class InvoiceFacts:
    """One VAT invoice offered for a form."""

    number: str
    issued_on: date
    lines: Sequence[LineFacts]
    store_id: int
    reversed: bool = False
    already_used: bool = False

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), ZERO)


def traveler_violations(traveler: TravelerFacts) -> list[Violation]:
    """Measures art. 10: a valid document of an eligible person with a known entry date."""
    nationality = traveler.nationality.upper()
    if traveler.document_type not in DOCUMENT_TYPES:
        return [
            Violation(
                "traveler_not_eligible",
                "The document type is not one that qualifies for a refund.",
                {"document_type": traveler.document_type},
            )
        ]
    if nationality == "CN" and traveler.document_type == "passport":
        return [
            Violation(
                "traveler_not_eligible",
                "Mainland residents are not eligible for a departure tax refund.",
                {"nationality": nationality},
            )
        ]
    allowed = PERMIT_NATIONALITIES.get(traveler.document_type)
    if allowed is not None and nationality not in allowed:
        return [
            Violation(
                "traveler_not_eligible",
                "This travel permit is issued only to residents of "
                + " / ".join(sorted(allowed))
                + ".",
                {"document_type": traveler.document_type, "nationality": nationality},
            )
        ]
    if traveler.last_entry_date is None:
        return [
            Violation(
                "traveler_not_eligible",
                "The last entry date must be known to issue a form.",
                {"field": "last_entry_date"},
            )
        ]
    return []


def form_violations(
    *,
    traveler: TravelerFacts,
    invoices: Sequence[InvoiceFacts],
    policy: Policy,
    earlier_same_day_total: Decimal = ZERO,
) -> list[Violation]:
    """Every reason a store may not issue this form (Measures art. 10), most basic first.

    ``earlier_same_day_total`` is the VAT-inclusive total of the traveler's
    invoices from the same store and day already on live forms.
    """
    found = traveler_violations(traveler)
    if found:
        return found
    assert traveler.last_entry_date is not None
    entry = traveler.last_entry_date
    violations: list[Violation] = []
    if invoices:
        expired = document_expired_violation(
            traveler.document_expires_on, max(inv.issued_on for inv in invoices)
        )
        if expired is not None:
            violations.append(expired)

    for invoice in invoices:
        if invoice.reversed or invoice.already_used:
            violations.append(
                Violation(
                    "invoice_already_used",
                    f"Invoice {invoice.number} is already on a refund form or was reversed.",
                    {"invoice": invoice.number},
                )
            )
    if len({inv.store_id for inv in invoices}) > 1 or len({inv.issued_on for inv in invoices}) > 1:
        violations.append(
            Violation(
                "invoices_not_same_store_day",
                "All invoices of a form must be from one store and one day.",
                {"invoices": [inv.number for inv in invoices]},
            )
        )
    for invoice in invoices:
        if invoice.issued_on < entry:
            violations.append(
                Violation(
                    "invoice_before_entry",
                    f"Invoice {invoice.number} is dated before the last entry date.",
                    {"invoice": invoice.number, "issued_on": invoice.issued_on.isoformat()},
                )
            )
    for invoice in invoices:
        stay = (invoice.issued_on - entry).days
        if stay > MAX_STAY_DAYS:
            violations.append(
                Violation(
                    "stay_over_183_days",
                    f"The purchase is {stay} days after the last entry; the limit is 183.",
                    {"invoice": invoice.number, "days": stay},
                )
            )
            break
    for invoice in invoices:
        for line in invoice.lines:
            if policy.refund_rate_for(line.vat_rate) is None:
                violations.append(
                    Violation(
                        "goods_not_eligible",
                        f"Goods at VAT rate {rate_pct(line.vat_rate)} have no refund rate"
                        f" (invoice {invoice.number}).",
                        {
                            "invoice": invoice.number,
                            "item": line.item,
                            "vat_rate": rate_str(line.vat_rate),
                        },
                    )
                )
    day_total = earlier_same_day_total + sum((inv.total for inv in invoices), ZERO)
    if day_total < policy.minimum_amount:
        violations.append(
            Violation(
                "below_minimum",
                f"The same-day total at this store is RMB {quantize_money(day_total)};"
                f" the minimum is RMB {quantize_money(policy.minimum_amount)}.",
                {
                    "day_total": str(quantize_money(day_total)),
                    "minimum": str(quantize_money(policy.minimum_amount)),
                },
            )
        )
    return violations


# --- Computation (FAQ Q36) ----------------------------------------------------


@dataclass(frozen=True)
class RateGroup:
    """The lines of one VAT rate, computed together."""

    vat_rate: Decimal
    refund_rate: Decimal
    total: Decimal
    refundable: Decimal
    fee: Decimal

    @property
    def net(self) -> Decimal:
        return self.refundable - self.fee


@dataclass(frozen=True)
class Computation:
    """Refundable VAT, the agency fee and the net refund of a form."""

    groups: tuple[RateGroup, ...]
    total: Decimal
    refundable: Decimal
    fee: Decimal
    fee_rate: Decimal

    @property
    def net(self) -> Decimal:
        return self.refundable - self.fee


def compute_refund(lines: Iterable[LineFacts], *, policy: Policy, fee_rate: Decimal) -> Computation:
    """Per rate group: refundable = total x refund rate, fee = total x fee rate, half-up to 0.01."""
    totals: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        totals[line.vat_rate.normalize()] += line.total
    groups = []
    for vat_rate in sorted(totals, reverse=True):
        refund_rate = policy.refund_rate_for(vat_rate)
        if refund_rate is None:
            raise ValueError(f"no refund rate for VAT rate {vat_rate}")
        total = totals[vat_rate]
        groups.append(
            RateGroup(
                vat_rate=vat_rate,
                refund_rate=refund_rate,
                total=quantize_money(total),
                refundable=quantize_money(total * refund_rate),
                fee=quantize_money(total * fee_rate),
            )
        )
    return Computation(
        groups=tuple(groups),
        total=quantize_money(sum((g.total for g in groups), ZERO)),
        refundable=sum((g.refundable for g in groups), ZERO),
        fee=sum((g.fee for g in groups), ZERO),
        fee_rate=fee_rate,
    )


def payout_allowed(*, method: str, net_refund: Decimal, cash_cap: Decimal, mailbox: bool) -> bool:
    """Cash only within the cap and never for mailbox forms; transfers always."""
    if method == "cash":
        return not mailbox and net_refund <= cash_cap
    return method in {"bank_card", "alipay", "wechat"}


# --- Names (Buy & Refund card holder, SPEC §2 Buy & Refund 6) -------------------

_NAME_SEPARATORS = re.compile("[\\s,.\\-'\u2019/]+")
# Beyond this many words a name is compared as a plain set of words.
_MAX_PERMUTED_WORDS = 6


def name_words(name: str) -> list[str]:
    """The words of a person's name: case-folded, accents dropped, split at spaces,
    commas, hyphens, dots and apostrophes (cards and MRZs drop or keep them)."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return [word for word in _NAME_SEPARATORS.split(plain) if word]


def _spellings(words: list[str]) -> set[str]:
    """The name written run together in any order of its words."""
    if len(words) > _MAX_PERMUTED_WORDS:
        return {"".join(sorted(words))}
    return {"".join(order) for order in islice(permutations(words), 720)}


def names_match(a: str, b: str) -> bool:
    """Whether two names are the same person's: case, spacing and order of words free.

    "SMITH JOHN" = "John Smith"; "MARIEDUPONT" = "Marie Dupont"; "ZHANG SANFENG"
    = "Zhang San Feng"; "Marie Durand" != "Marie Dupont".
    """
    words_a, words_b = name_words(a), name_words(b)
    if not words_a or not words_b:
        return False
    if sorted(words_a) == sorted(words_b):
        return True
    return bool(_spellings(words_a) & _spellings(words_b))


def name_words_unmatched(name: str, reference: str) -> list[str]:
    """The words of ``name`` that do not appear in ``reference`` (to tell a clerk which)."""
    known = set(name_words(reference))
    joined = "".join(sorted(known))
    return [w for w in name_words(name) if w not in known and w not in joined]


# --- Agency checks A-F (FAQ Q37(3)) ---------------------------------------------


@dataclass(frozen=True)
class Check:
    """One agency check reported by letter."""

    code: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class AgencyFacts:
    """What the agency sees: the record, the presented items, customs' result."""

    missing_fields: Sequence[str]
    document_type_matches: bool
    document_number_matches: bool
    customs_verified: bool
    customs_signature_valid: bool
    departure_date: date | None
    last_entry_date: date | None
    purchase_dates: Sequence[date]
    qr_signature_valid: bool
    qr_digest_matches: bool
    voided: bool
    already_refunded: bool
    # Check B also needs a valid document on the day of the refund (SPEC §2).
    document_expires_on: date | None = None
    refund_date: date | None = None


def agency_checks(facts: AgencyFacts) -> list[Check]:
    """Checks A-F, each with a human detail; all must pass before paying."""
    checks = []
    checks.append(
        Check(
            "A",
            not facts.missing_fields,
            "The form's information is complete."
            if not facts.missing_fields
            else "Missing: " + ", ".join(facts.missing_fields) + ".",
        )
    )
    doc_ok = facts.document_type_matches and facts.document_number_matches
    expired = facts.refund_date is not None and document_expired(
        facts.document_expires_on, facts.refund_date
    )
    if not doc_ok:
        b_detail = "The presented document does not match the form" + (
            " (type)." if not facts.document_type_matches else " (number)."
        )
    elif expired:
        assert facts.document_expires_on is not None and facts.refund_date is not None
        b_detail = (
            f"The document expired on {facts.document_expires_on.isoformat()}:"
            " an expired document is not valid for a refund."
        )
    else:
        b_detail = "The presented document matches the form."
    checks.append(Check("B", doc_ok and not expired, b_detail))
    customs_ok = facts.customs_verified and facts.customs_signature_valid
    checks.append(
        Check(
            "C",
            customs_ok,
            "Customs verified and signed the form; the stamp signature is valid."
            if customs_ok
            else (
                "Customs has not verified this form."
                if not facts.customs_verified
                else "The customs stamp signature is not valid."
            ),
        )
    )
    if facts.departure_date is None or facts.last_entry_date is None:
        checks.append(Check("D", False, "No departure date recorded by customs."))
    else:
        stay = (facts.departure_date - facts.last_entry_date).days
        checks.append(
            Check(
                "D",
                stay <= MAX_STAY_DAYS,
                f"Departure is {stay} days after the last entry (limit {MAX_STAY_DAYS}).",
            )
        )
    if facts.departure_date is None or not facts.purchase_dates:
        checks.append(Check("E", False, "No departure or purchase date to compare."))
    else:
        gap = max((facts.departure_date - d).days for d in facts.purchase_dates)
        checks.append(
            Check(
                "E",
                gap <= MAX_PURCHASE_TO_DEPARTURE_DAYS,
                f"Purchase was {gap} days before departure"
                f" (limit {MAX_PURCHASE_TO_DEPARTURE_DAYS}).",
            )
        )
    problems = []
    if not facts.qr_signature_valid:
        problems.append("the QR signature is not valid")
    if not facts.qr_digest_matches:
        problems.append("the QR does not match the record")
    if facts.voided:
        problems.append("the form was voided")
    if facts.already_refunded:
        problems.append("the form was already refunded")
    checks.append(
        Check(
            "F",
            not problems,
            "The presented form matches the system record."
            if not problems
            else "Mismatch: " + "; ".join(problems) + ".",
        )
    )
    return checks
