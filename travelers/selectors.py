"""Traveler reads: the trip's forms, the phone page's content, the pre-chosen transfer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from agencies.guarantee_models import Guarantee, GuaranteeStatus, Prepayment, PrepaymentStatus
from agencies.models import Refund, RefundStatus
from core.money import ZERO, money_str
from customs.models import Verification, VerificationResult
from stores.models import FormStatus, RefundForm
from travelers.models import PayoutPreChoice, TravelerPage


def trip_forms(form: RefundForm) -> QuerySet[RefundForm]:
    """Every form of the form's trip: the same document (keyed hash), the same last entry."""
    return RefundForm.objects.filter(
        document_hash=form.document_hash,
        document_type=form.document_type,
        last_entry_date=form.last_entry_date,
    ).order_by("issued_at", "pk")


def page_by_token(token: str) -> TravelerPage | None:
    """The phone page of this token, or None (the same 404 for any unknown token)."""
    if not token or len(token) > 64:
        return None
    return TravelerPage.objects.select_related("form", "form__store").filter(token=token).first()


def pre_choice_for(form: RefundForm) -> PayoutPreChoice | None:
    """The form's pre-chosen transfer; no query when loaded with select_related("pre_choice")."""
    try:
        return form.pre_choice  # type: ignore[no-any-return]
    except PayoutPreChoice.DoesNotExist:
        return None


def pre_choice_dict(form: RefundForm) -> dict[str, Any] | None:
    """The pre-chosen transfer as the kiosk and the counter show it (account masked)."""
    choice = pre_choice_for(form)
    if choice is None:
        return None
    return {
        "payout_method": choice.payout_method,
        "payout_account": choice.payout_account_masked,
        "status": choice.status,
        "failure_code": choice.failure_code or None,
    }


@dataclass
class FormView:
    """One form as its traveler sees it on the phone page."""

    form: RefundForm
    status_label: str
    estimate: Decimal
    verified: Decimal | None
    paid: Decimal | None
    paid_how: str
    differences: list[str]
    timeline: list[tuple[Any, str]]
    deadline: date | None = None
    hold_state: str = ""
    hold_amount: Decimal | None = None
    captured: Decimal | None = None
    pre_choice: PayoutPreChoice | None = None
    pre_choice_how: str = ""
    next_step: str = ""
    money: dict[str, str] = field(default_factory=dict)


def _status_label(status: str) -> str:
    labels: dict[str, str] = {
        FormStatus.ISSUED: _("Issued: show it to customs before you leave"),
        FormStatus.VERIFIED: _("Verified by customs"),
        FormStatus.PARTIALLY_VERIFIED: _("Partly verified by customs"),
        FormStatus.REJECTED: _("Refused by customs"),
        FormStatus.REFUNDED: _("Refunded"),
        FormStatus.VOIDED: _("Cancelled (goods returned)"),
    }
    return labels.get(status, status)


def method_label(method: str) -> str:
    return {
        "cash": _("cash"),
        "bank_card": _("bank card"),
        "alipay": _("Alipay"),
        "wechat": _("WeChat Pay"),
    }.get(method, method)


def _hold_label(status: str) -> str:
    labels: dict[str, str] = {
        GuaranteeStatus.PENDING: _("Card hold being placed"),
        GuaranteeStatus.AUTHORIZED: _("Card hold in place"),
        GuaranteeStatus.REAUTHORIZED: _("Card hold in place"),
        GuaranteeStatus.RELEASED: _("Card hold released"),
        GuaranteeStatus.CAPTURED: _("Card charged"),
        GuaranteeStatus.PARTIALLY_CAPTURED: _("Card charged in part"),
        GuaranteeStatus.FAILED: _("Card declined"),
    }
    return labels.get(status, status)


def form_view(form: RefundForm) -> FormView:
    """Status, amounts and why they differ, timeline, Buy & Refund hold, pre-choice."""
    verification = Verification.objects.filter(form=form).first()
    refund = Refund.objects.filter(form=form, status=RefundStatus.PAID).order_by("-pk").first()
    guarantee = (
        Guarantee.objects.select_related("prepayment").filter(form=form).order_by("-pk").first()
        if form.buy_and_refund
        else None
    )
    verified = verification.verified_total if verification is not None else None
    differences: list[str] = []
    if verification is not None and verification.result == VerificationResult.PARTIALLY_VERIFIED:
        differences.append(
            _("Customs verified only part of the goods, so the refund is on those goods only.")
        )
    paid: Decimal | None = None
    paid_how = ""
    if refund is not None:
        paid = refund.net_refund
        paid_how = method_label(refund.payout_method)
        if refund.payout_account_masked:
            paid_how += f" {refund.payout_account_masked}"
        if refund.fee_rate != form.fee_rate:
            differences.append(_("The agency fee in force on the refund day was applied."))
    # In the order things happen (the stamp's time is rounded to the second, so sorting by
    # time could put it before the issue a moment earlier).
    timeline: list[tuple[Any, str]] = [(form.issued_at, _("Form issued at the store"))]
    deadline = hold_state = ""
    hold_amount = captured = None
    if guarantee is not None:
        prepayment: Prepayment = guarantee.prepayment
        if prepayment.status == PrepaymentStatus.PAID and prepayment.paid_at:
            timeline.append((prepayment.paid_at, _("Refund paid in advance at the store")))
            paid = prepayment.amount - guarantee.captured_amount
            paid_how = _("paid in advance at the store")
        deadline = guarantee.deadline  # type: ignore[assignment]
        hold_state = _hold_label(guarantee.status)
        hold_amount = guarantee.amount
        captured = guarantee.captured_amount if guarantee.captured_amount > 0 else None
    if verification is not None:
        timeline.append((verification.verified_at, _status_label(verification.result)))
    if guarantee is not None and guarantee.settled_at:
        timeline.append((guarantee.settled_at, hold_state))
    if refund is not None and refund.paid_at:
        timeline.append((refund.paid_at, _("Refund paid")))
    next_step = _next_step(form, guarantee)
    choice = pre_choice_for(form)
    return FormView(
        form=form,
        status_label=_status_label(form.status),
        estimate=form.net_refund,
        verified=verified,
        paid=paid,
        paid_how=paid_how,
        differences=differences,
        timeline=timeline,
        deadline=deadline or None,  # type: ignore[arg-type]
        hold_state=hold_state,
        hold_amount=hold_amount,
        captured=captured,
        pre_choice=choice,
        pre_choice_how=method_label(choice.payout_method) if choice else "",
        next_step=next_step,
        money={
            "estimate": money_str(form.net_refund),
            "verified": money_str(verified) if verified is not None else "",
            "paid": money_str(paid) if paid is not None else "",
            "total": money_str(form.total),
            "hold": money_str(hold_amount) if hold_amount is not None else "",
            "captured": money_str(captured) if captured else "",
            "zero": money_str(ZERO),
        },
    )


def _next_step(form: RefundForm, guarantee: Guarantee | None) -> str:
    if form.status == FormStatus.ISSUED:
        if guarantee is not None:
            return _(
                "Show this form and your goods to customs at a Buy & Refund port before the"
                " deadline; the card hold is then released."
            )
        return _("Show this form, your passport and the goods to customs before you leave.")
    if form.status in (FormStatus.VERIFIED, FormStatus.PARTIALLY_VERIFIED):
        return _("Go to the refund counter, or choose a transfer below to be paid without one.")
    if form.status == FormStatus.REFUNDED:
        return _("Nothing more to do.")
    return _("Nothing will be paid for this form.")


def trip_views(page: TravelerPage) -> list[FormView]:
    """Every form of the page's trip, the page's own first."""
    forms = list(trip_forms(page.form).select_related("store"))
    forms.sort(key=lambda f: f.pk != page.form_id)
    return [form_view(f) for f in forms]
