"""What happened to a form after the counter, for the store pages: read-only.

Customs' verification, the agency's refund and the Buy & Refund prepayment and
guarantee live in later apps (stores <- customs <- agencies); they register the
form detail sections (``stores.api.serializers.register_form_section``) that the
API shows, and the store pages read the same sections here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from stores.api.serializers import form_sections
from stores.models import FormStatus, RefundForm
from stores.services import refund_form_void_blocker

PAYOUT_LABELS = {
    "cash": "Cash · 现金",
    "bank_card": "Bank card · 银行卡",
    "alipay": "Alipay · 支付宝",
    "wechat": "WeChat Pay · 微信支付",
}

VERIFICATION_LABELS = {
    "verified": "Verified · 海关已验核",
    "partially_verified": "Partially verified · 部分验核",
    "rejected": "Rejected · 不予验核",
}

PAYMENT_LABELS = {
    "pending": "Being paid · 支付中",
    "awaiting_handover": "Awaiting handover · 待交付",
    "paid": "Paid · 已支付",
    "failed": "Failed · 支付失败",
    "returned": "Returned by the traveler · 旅客已退回",
}

GUARANTEE_LABELS = {
    "pending": "Being placed · 预授权中",
    "authorized": "Card hold in place · 信用卡预授权中",
    "reauthorized": "Card hold renewed · 预授权已续期",
    "released": "Released · 预授权已释放",
    "captured": "Prepayment charged to the card · 已从信用卡扣回",
    "partially_captured": "Partly charged to the card · 已部分扣回",
    "failed": "Declined · 预授权失败",
}

NOT_VOIDABLE: dict[str, str] = {
    FormStatus.VERIFIED: "Customs has verified this form: it can no longer be voided.",
    FormStatus.PARTIALLY_VERIFIED: "Customs has verified this form: it can no longer be voided.",
    FormStatus.REJECTED: "Customs rejected this form: it can no longer be voided.",
    FormStatus.REFUNDED: "The refund was paid: this form can no longer be voided.",
    FormStatus.VOIDED: "This form is already voided.",
}


def _money(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value not in (None, "") else None


def _when(value: Any) -> datetime | date | None:
    if not value:
        return None
    if isinstance(value, datetime | date):
        return value
    text = str(value)
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


@dataclass(frozen=True)
class VerifiedLine:
    """Customs' decision on one goods line."""

    quantity_presented: Decimal
    verified_total: Decimal
    full: bool


@dataclass
class FormOutcome:
    """Verification, refund, prepayment and guarantee of a form, as the clerk reads them."""

    verification: dict[str, Any] | None = None
    refund: dict[str, Any] | None = None
    prepayment: dict[str, Any] | None = None
    guarantee: dict[str, Any] | None = None
    lines: dict[int, VerifiedLine] = field(default_factory=dict)  # by line position
    # What the traveler was actually paid (None: nothing yet).
    refunded: Decimal | None = None
    refunded_how: str = ""
    refunded_at: datetime | date | None = None
    refunded_note: str = ""
    void_blocked: str = ""

    @property
    def voidable(self) -> bool:
        return not self.void_blocked


def _verification(section: dict[str, Any]) -> tuple[dict[str, Any], dict[int, VerifiedLine]]:
    lines = {
        int(row["position"]): VerifiedLine(
            quantity_presented=Decimal(str(row["quantity_presented"])),
            verified_total=Decimal(str(row["verified_total"])),
            full=Decimal(str(row["quantity_presented"])) >= Decimal(str(row["quantity"])),
        )
        for row in section.get("lines", [])
    }
    stamp = section.get("stamp") or {}
    shown = {
        "result": section.get("result", ""),
        "label": VERIFICATION_LABELS.get(section.get("result", ""), section.get("result", "")),
        "verified_total": _money(section.get("verified_total")),
        "departure_date": _when(section.get("departure_date")),
        "flight": section.get("flight", ""),
        "port": stamp.get("port", ""),
        "officer": stamp.get("officer", ""),
        "signed_at": _when(stamp.get("signed_at")),
        "channel": section.get("channel", ""),
    }
    return shown, lines


def _refund(section: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": section.get("status", ""),
        "label": PAYMENT_LABELS.get(section.get("status", ""), section.get("status", "")),
        "verified_total": _money(section.get("verified_total")),
        "refundable_vat": _money(section.get("refundable_vat")),
        "fee": _money(section.get("fee")),
        "net_refund": _money(section.get("net_refund")),
        "method": PAYOUT_LABELS.get(section.get("payout_method", ""), section.get("payout_method")),
        "account": section.get("payout_account") or "",
        "paid_at": _when(section.get("paid_at")),
    }


def _prepayment(section: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": section.get("status", ""),
        "label": PAYMENT_LABELS.get(section.get("status", ""), section.get("status", "")),
        "amount": _money(section.get("amount")),
        "method": PAYOUT_LABELS.get(section.get("payout_method", ""), section.get("payout_method")),
        "paid_at": _when(section.get("paid_at")),
    }


def _guarantee(section: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": section.get("status", ""),
        "label": GUARANTEE_LABELS.get(section.get("status", ""), section.get("status", "")),
        "amount": _money(section.get("amount")),
        "captured_amount": _money(section.get("captured_amount")) or Decimal("0.00"),
        "deadline": _when(section.get("deadline")),
        "grace_until": _when(section.get("grace_until")),
        "hold_expires_at": _when(section.get("hold_expires_at")),
    }


def form_outcome(form: RefundForm, *, with_void: bool = True) -> FormOutcome:
    """What happened to ``form``: customs, the refund paid, the prepayment and guarantee."""
    sections = form_sections(form)
    outcome = FormOutcome()
    if "verification" in sections:
        outcome.verification, outcome.lines = _verification(sections["verification"])
    if "refund" in sections:
        outcome.refund = _refund(sections["refund"])
    if "prepayment" in sections:
        outcome.prepayment = _prepayment(sections["prepayment"])
    if "guarantee" in sections and outcome.prepayment is not None:
        outcome.guarantee = _guarantee(sections["guarantee"])

    refund, prepayment, guarantee = outcome.refund, outcome.prepayment, outcome.guarantee
    if refund is not None and refund["status"] == "paid":
        outcome.refunded = refund["net_refund"]
        outcome.refunded_how = refund["method"]
        outcome.refunded_at = refund["paid_at"]
        outcome.refunded_note = (
            "Paid by the refund agency on the verified goods · 代理机构按验核货物退付"
        )
    elif prepayment is not None and prepayment["status"] == "paid":
        captured = guarantee["captured_amount"] if guarantee else Decimal("0.00")
        outcome.refunded = (prepayment["amount"] or Decimal("0.00")) - captured
        outcome.refunded_how = prepayment["method"]
        outcome.refunded_at = prepayment["paid_at"]
        outcome.refunded_note = "Buy & Refund prepayment at the store · 即买即退商店预付" + (
            f" - RMB {captured:,.2f} charged back to the card · 已从信用卡扣回" if captured else ""
        )
    if with_void:
        blocker = refund_form_void_blocker(form)
        if blocker is not None:
            outcome.void_blocked = NOT_VOIDABLE.get(form.status, "") or blocker.message
    return outcome
