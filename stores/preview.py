"""The live eligibility check and refund estimate of the issue page: read-only.

Runs the same pure rules (``core.rules.form_violations`` and ``compute_refund``)
on the draft the clerk is typing, with the policy and fee rate from
``core.selectors``, so the page says what the service will say before anything
is written. Never writes: the services issue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from core import rules
from core.crypto import document_hash
from core.models import Store
from core.money import ZERO, money_str, quantize_money
from core.selectors import fee_rate_on, policy_on
from stores.models import InvoiceKind, VatInvoice
from stores.selectors import same_day_live_total
from stores.services import InvoiceLineInput, business_today, invoice_line_amounts

NEW_INVOICE = "new"


def _rmb(amount: Decimal) -> str:
    """RMB 200 for whole amounts, RMB 199.50 otherwise, with thousands separators."""
    value = quantize_money(amount)
    return f"RMB {value:,.0f}" if value == value.to_integral_value() else f"RMB {value:,.2f}"


def rule_title(code: str, extra: dict[str, Any] | None = None) -> str:
    """A short bilingual headline for a rule's error code, as the counter shows it."""
    extra = extra or {}
    if code == "below_minimum" and extra.get("minimum"):
        return f"Below the {_rmb(Decimal(str(extra['minimum'])))} minimum · 未达起退金额"
    return RULE_TITLES.get(code, code.replace("_", " ").capitalize())


RULE_TITLES = {
    "below_minimum": "Below the minimum · 未达起退金额",
    "stay_over_183_days": "Stay over 183 days · 在境内停留超过183天",
    "invoice_before_entry": "Invoice dated before the last entry · 发票日期早于入境日期",
    "invoice_not_found": "Invoice not found at this store · 本店无此发票",
    "invoice_already_used": "Invoice already used · 发票已开具退税申请单",
    "traveler_not_eligible": "Traveler not eligible · 旅客不符合退税条件",
    "goods_not_eligible": "Goods not eligible · 货物不属于退税物品",
    "invoices_not_same_store_day": "Invoices not from one store and day · 发票须同店同日",
    "not_buy_and_refund_store": "Buy & Refund not offered here · 本店不提供即买即退",
    "no_policy": "No refund policy in force · 无适用退税政策",
    "form_not_voidable": "This form cannot be voided · 此单不可作废",
    "invalid": "Check the input · 请检查输入",
    "traveler_incomplete": "Traveler details needed · 请填写旅客信息",
    "no_goods": "Add goods · 请添加货物",
    "eligible": "Eligible for a refund · 符合退税条件",
    "document_expired": "Document expired · 证件已过期",
}


@dataclass(frozen=True)
class LineDraft:
    """One valid goods line of the invoice the page will issue."""

    index: int
    item: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal


@dataclass(frozen=True)
class TravelerDraft:
    """The traveler as typed so far; any field may still be missing."""

    document_type: str = ""
    document_number: str = ""
    nationality: str = ""
    last_entry_date: date | None = None
    document_expires_on: date | None = None

    def missing(self) -> list[str]:
        labels = {
            "document_type": "document type",
            "document_number": "document number",
            "nationality": "nationality",
            "last_entry_date": "last entry date",
            "document_expires_on": "document expiry date",
        }
        return [label for key, label in labels.items() if not getattr(self, key)]


@dataclass(frozen=True)
class Message:
    """One line of the eligibility panel."""

    code: str
    level: str  # "error" (a rule refuses), "pending" (input missing), "ok"
    title: str
    detail: str = ""


@dataclass(frozen=True)
class LineEstimate:
    """A draft line's amounts as the invoice will print them."""

    index: int
    amount: Decimal
    vat: Decimal
    total: Decimal
    refund_rate: Decimal | None


@dataclass(frozen=True)
class InvoiceEstimate:
    """An existing invoice the clerk named, as found at this store."""

    number: str
    found: bool
    issued_on: date | None = None
    total: Decimal = ZERO


@dataclass(frozen=True)
class Estimate:
    """Eligibility and the refund estimate of a draft form."""

    eligible: bool
    messages: tuple[Message, ...]
    lines: tuple[LineEstimate, ...] = ()
    invoices: tuple[InvoiceEstimate, ...] = ()
    groups: tuple[rules.RateGroup, ...] = ()
    total: Decimal = ZERO
    refundable_vat: Decimal = ZERO
    fee: Decimal = ZERO
    fee_rate: Decimal | None = None
    earlier_same_day_total: Decimal = ZERO
    minimum: Decimal | None = None
    purchase_date: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def net_refund(self) -> Decimal:
        return self.refundable_vat - self.fee

    def as_json(self) -> dict[str, Any]:
        """The JSON the page's script renders (money as 2-decimal strings)."""

        def rate(value: Decimal | None) -> str | None:
            return None if value is None else f"{value * 100:.0f}%"

        return {
            "eligible": self.eligible,
            "messages": [
                {"code": m.code, "level": m.level, "title": m.title, "detail": m.detail}
                for m in self.messages
            ],
            "lines": [
                {
                    "index": line.index,
                    "amount": money_str(line.amount),
                    "vat": money_str(line.vat),
                    "total": money_str(line.total),
                    "refund_rate": rate(line.refund_rate),
                }
                for line in self.lines
            ],
            "invoices": [
                {
                    "number": inv.number,
                    "found": inv.found,
                    "issued_on": inv.issued_on.isoformat() if inv.issued_on else None,
                    "total": money_str(inv.total),
                }
                for inv in self.invoices
            ],
            "groups": [
                {
                    "vat_rate": rate(g.vat_rate),
                    "refund_rate": rate(g.refund_rate),
                    "total": money_str(g.total),
                    "refundable": money_str(g.refundable),
                    "fee": money_str(g.fee),
                }
                for g in self.groups
            ],
            "total": money_str(self.total),
            "refundable_vat": money_str(self.refundable_vat),
            "fee": money_str(self.fee),
            "fee_rate": rate(self.fee_rate),
            "net_refund": money_str(self.net_refund),
            "earlier_same_day_total": money_str(self.earlier_same_day_total),
            "minimum": money_str(self.minimum) if self.minimum is not None else None,
            "purchase_date": self.purchase_date.isoformat() if self.purchase_date else None,
        }


def _existing_invoices(
    store: Store, numbers: Sequence[str]
) -> tuple[list[rules.InvoiceFacts], list[InvoiceEstimate]]:
    found = {
        inv.number: inv
        for inv in VatInvoice.objects.filter(
            number__in=list(numbers), store=store, kind=InvoiceKind.BLUE
        ).prefetch_related("lines")
    }
    facts: list[rules.InvoiceFacts] = []
    shown: list[InvoiceEstimate] = []
    for number in numbers:
        inv = found.get(number)
        if inv is None:
            shown.append(InvoiceEstimate(number=number, found=False))
            continue
        shown.append(
            InvoiceEstimate(number=number, found=True, issued_on=inv.issued_on, total=inv.total)
        )
        facts.append(
            rules.InvoiceFacts(
                number=inv.number,
                issued_on=inv.issued_on,
                store_id=inv.store_id,
                reversed=inv.status == VatInvoice.Status.REVERSED,
                already_used=inv.form_id is not None,
                lines=[
                    rules.LineFacts(vat_rate=line.vat_rate, total=line.total, item=line.item)
                    for line in inv.lines.all()
                ],
            )
        )
    return facts, shown


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _detail(violation: rules.Violation) -> str:
    """The rule's message, worded for the draft (the new invoice has no number yet)."""
    extra = violation.extra
    if violation.code == "goods_not_eligible" and extra.get("vat_rate") is not None:
        where = "" if extra.get("invoice") == NEW_INVOICE else f" (invoice {extra['invoice']})"
        item = extra.get("item") or "Goods"
        return (
            f"{item}: goods at {_pct(Decimal(extra['vat_rate']))} VAT have no refund rate{where}."
        )
    return violation.message.replace(f"Invoice {NEW_INVOICE} ", "The new invoice ").replace(
        f"invoice {NEW_INVOICE}", "the new invoice"
    )


def form_estimate(
    *,
    store: Store,
    traveler: TravelerDraft,
    lines: Sequence[LineDraft],
    invoice_numbers: Sequence[str] = (),
    buy_and_refund: bool = False,
    today: date | None = None,
) -> Estimate:
    """Which rules refuse this draft, and what it would refund.

    Missing traveler fields are reported as pending, and the invoice rules are
    still checked with neutral stand-ins for them (a passport, an entry on the
    first invoice's day), so the clerk sees "below the minimum" while still
    typing the name.
    """
    today = today or business_today()
    messages: list[Message] = []

    line_estimates: list[LineEstimate] = []
    new_facts: list[rules.LineFacts] = []
    for draft in lines:
        amount, vat, total = invoice_line_amounts(
            InvoiceLineInput(
                item=draft.item,
                quantity=draft.quantity,
                unit_price=draft.unit_price,
                vat_rate=draft.vat_rate,
            )
        )
        line_estimates.append(
            LineEstimate(index=draft.index, amount=amount, vat=vat, total=total, refund_rate=None)
        )
        new_facts.append(rules.LineFacts(vat_rate=draft.vat_rate, total=total, item=draft.item))

    invoice_facts, invoice_estimates = _existing_invoices(store, invoice_numbers)
    for inv in invoice_estimates:
        if not inv.found:
            messages.append(
                Message(
                    "invoice_not_found",
                    "error",
                    rule_title("invoice_not_found"),
                    f"Invoice {inv.number} was not found at this store.",
                )
            )
    if new_facts:
        invoice_facts.append(
            rules.InvoiceFacts(
                number=NEW_INVOICE, issued_on=today, store_id=store.pk, lines=new_facts
            )
        )
    if not invoice_facts:
        messages.append(
            Message(
                "no_goods",
                "pending",
                rule_title("no_goods"),
                "Add goods lines, or the numbers of invoices already issued.",
            )
        )
        return Estimate(
            eligible=False,
            messages=tuple(messages),
            lines=tuple(line_estimates),
            invoices=tuple(invoice_estimates),
        )

    purchase_date = max(inv.issued_on for inv in invoice_facts)
    try:
        policy = policy_on(purchase_date)
    except rules.NoPolicyInForce:
        messages.append(
            Message(
                "no_policy",
                "error",
                rule_title("no_policy"),
                f"No refund policy covers {purchase_date.isoformat()}.",
            )
        )
        return Estimate(eligible=False, messages=tuple(messages), invoices=tuple(invoice_estimates))

    missing = traveler.missing()
    if missing:
        messages.append(
            Message(
                "traveler_incomplete",
                "pending",
                rule_title("traveler_incomplete"),
                "Still needed: " + ", ".join(missing) + ".",
            )
        )
    facts = rules.TravelerFacts(
        document_type=traveler.document_type or "passport",
        # A stand-in that no nationality rule refuses, until one is chosen.
        nationality=traveler.nationality or "ZZ",
        last_entry_date=traveler.last_entry_date or min(inv.issued_on for inv in invoice_facts),
        document_expires_on=traveler.document_expires_on,
    )
    earlier = (
        same_day_live_total(
            store_id=store.pk,
            document_hash=document_hash(traveler.document_number),
            day=purchase_date,
        )
        if traveler.document_number
        else ZERO
    )
    violations = rules.form_violations(
        traveler=facts,
        invoices=invoice_facts,
        policy=policy,
        earlier_same_day_total=earlier,
    )
    for violation in violations:
        detail = _detail(violation)
        if violation.code == "below_minimum" and earlier:
            detail += f" (RMB {money_str(earlier)} of it is on earlier forms today.)"
        messages.append(
            Message(violation.code, "error", rule_title(violation.code, violation.extra), detail)
        )
    if buy_and_refund and not store.buy_and_refund:
        messages.append(
            Message(
                "not_buy_and_refund_store",
                "error",
                rule_title("not_buy_and_refund_store"),
                "This store does not offer Buy & Refund.",
            )
        )

    line_estimates = [
        LineEstimate(
            index=le.index,
            amount=le.amount,
            vat=le.vat,
            total=le.total,
            refund_rate=policy.refund_rate_for(new_facts[pos].vat_rate),
        )
        for pos, le in enumerate(line_estimates)
    ]
    refundable_lines = [
        line
        for inv in invoice_facts
        for line in inv.lines
        if policy.refund_rate_for(line.vat_rate) is not None
    ]
    fee_rate = fee_rate_on(agency_id=store.serving_agency_id, day=today)
    computation = rules.compute_refund(refundable_lines, policy=policy, fee_rate=fee_rate)
    eligible = not any(m.level in ("error", "pending") for m in messages)
    if eligible:
        messages.append(
            Message(
                "eligible",
                "ok",
                rule_title("eligible"),
                f"Same-day total {_rmb(earlier + computation.total)}"
                f" (minimum {_rmb(policy.minimum_amount)}).",
            )
        )
    return Estimate(
        eligible=eligible,
        messages=tuple(messages),
        lines=tuple(line_estimates),
        invoices=tuple(invoice_estimates),
        groups=computation.groups,
        total=quantize_money(sum((inv.total for inv in invoice_facts), ZERO)),
        refundable_vat=computation.refundable,
        fee=computation.fee,
        fee_rate=fee_rate,
        earlier_same_day_total=earlier,
        minimum=policy.minimum_amount,
        purchase_date=purchase_date,
    )
