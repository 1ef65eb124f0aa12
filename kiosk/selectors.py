"""What the traveler's kiosk shows: one read-only lookup by form and document.

The lookup answers one way for every mismatch (``KioskNotFound``): an unknown
form, a wrong document, a forged or garbled QR and malformed fields all look
the same from outside, so the kiosk cannot be used to probe for forms or
documents. The document hash is computed even when the form is unknown, so the
two cases also take about the same time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from agencies.guarantee_models import Prepayment, PrepaymentStatus
from agencies.models import PayoutMethod, Refund, RefundStatus
from core import rules
from core.crypto import document_hash, normalize_document_number
from core.ledger import record_history
from core.money import ZERO, money_str
from core.numbering import is_valid_form_number
from core.selectors import fee_rate_on, policies_all
from core.signing import FORM_NUMBER_LENGTH, QR_LENGTH, QR_PREFIX, MalformedQr, parse_form_qr
from customs.models import Verification, VerificationChannel, VerificationLine
from customs.selectors import inspection_for, verification_for
from kiosk.i18n import language_of, money, text
from kiosk.models import Device
from stores.models import FormStatus, RefundForm
from travelers.selectors import pre_choice_dict

MAX_INPUT_LENGTH = 200
# A trip's other forms shown with one lookup (a traveler with more is shown the latest).
MAX_TRIP_FORMS = 50
# Document numbers as the stores take them (stores.api.serializers): normalized, 5-20 A-Z 0-9.
DOCUMENT_NUMBER = re.compile(r"^[A-Z0-9]{5,20}$")
QR_BODY = re.compile(r"^[A-Z2-7]+$")
VERIFIED_STATUSES = (FormStatus.VERIFIED, FormStatus.PARTIALLY_VERIFIED)
# Ledger actions on a form with their own words; anything else reads "Status updated".
TIMELINE_ACTIONS = frozenset(
    {
        "form_issued",
        "form_verified",
        "form_partially_verified",
        "form_rejected",
        "mailbox_form_verified",
        "mailbox_form_refused",
        "form_voided",
        "form_refunded",
    }
)
# Every next step the kiosk can show (the catalog has each in every language).
NEXT_STEPS = (
    "next_customs",
    "next_green_lane",
    "next_red_lane",
    "next_counter",
    "next_counter_partial",
    "next_mailbox",
    "next_refunded",
    "next_rejected",
    "next_voided",
    "next_prepaid",
    "next_prepaid_verified",
    "next_prepaid_partial",
)


class KioskNotFound(LookupError):
    """No form matches the form number/QR and document number given (or the input is bad)."""


def lookup_field_errors(*, form: Any, document_number: Any) -> dict[str, str]:
    """What is wrong with the fields as typed, before any lookup: field -> message key.

    Only what the characters themselves say (empty, wrong length, letters in a form number,
    a typo the check digit catches, a QR read halfway): nothing here depends on what is
    stored, so these messages tell a prober nothing. A well-formed but unknown or forged
    input is the lookup's uniform 404.
    """
    errors: dict[str, str] = {}
    typed = "".join(form.split()).upper() if isinstance(form, str) else ""
    if not typed:
        errors["form"] = "err_form_empty"
    elif len(typed) > MAX_INPUT_LENGTH:
        errors["form"] = "err_form_malformed"
    elif typed.startswith(QR_PREFIX):
        body = typed[len(QR_PREFIX) + FORM_NUMBER_LENGTH :]
        if len(typed) != QR_LENGTH or not QR_BODY.match(body):
            errors["form"] = "err_qr_incomplete"
    elif not typed.isdigit() or len(typed) != FORM_NUMBER_LENGTH:
        errors["form"] = "err_form_malformed"
    elif not is_valid_form_number(typed):
        errors["form"] = "err_form_check"
    document = (
        normalize_document_number(document_number) if isinstance(document_number, str) else ""
    )
    if not document:
        errors["document_number"] = "err_document_empty"
    elif not DOCUMENT_NUMBER.match(document):
        errors["document_number"] = "err_document_malformed"
    return errors


@dataclass(frozen=True)
class KioskResult:
    """The traveler's view of one form, in one language (``trip``: their other forms)."""

    number: str
    lang: str
    status: str
    status_text: str
    total: Decimal
    net_refund: Decimal
    next_step: dict[str, str]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    payout_options: list[dict[str, Any]] = field(default_factory=list)
    estimate: Decimal = ZERO
    payment: dict[str, Any] | None = None
    green_lane: bool = False
    trip: list[dict[str, Any]] = field(default_factory=list)
    # The transfer chosen ahead (travelers app), account masked; None when none.
    payout_choice: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "form": self.number,
            "lang": self.lang,
            "status": self.status,
            "status_text": self.status_text,
            "timeline": self.timeline,
            "total": money_str(self.total),
            "net_refund": money_str(self.net_refund),
            "estimate": money_str(self.estimate),
            "next_step": self.next_step,
            "payout_options": self.payout_options,
            "payment": self.payment,
            "green_lane": self.green_lane,
            "trip": self.trip,
            "payout_choice": self.payout_choice,
        }


def form_number_from_input(value: Any) -> str | None:
    """The form number in what was typed or scanned (16 digits or a signed QR), else None."""
    if not isinstance(value, str) or len(value) > MAX_INPUT_LENGTH:
        return None
    typed = "".join(value.split()).upper()
    if len(typed) == QR_LENGTH and typed.startswith(QR_PREFIX):
        try:
            parsed = parse_form_qr(typed)
        except MalformedQr:
            return None
        return parsed.number if parsed.signature_valid else None
    return typed if is_valid_form_number(typed) else None


def _document_ok(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_INPUT_LENGTH or not value.strip():
        return None
    return value


def _verified_net(form: RefundForm, verification: Verification, today: Any) -> Decimal:
    """FAQ Q36 on the verified goods: what the refund counter will pay."""
    rows = (
        VerificationLine.objects.filter(verification=verification, verified_total__gt=0)
        .values("form_line__vat_rate")
        .annotate(total=Sum("verified_total"))
        .order_by("form_line__vat_rate")
    )
    lines = [rules.LineFacts(vat_rate=r["form_line__vat_rate"], total=r["total"]) for r in rows]
    if not lines:
        return ZERO
    policy = rules.in_force(policies_all(), form.purchase_date)
    fee_rate = fee_rate_on(agency_id=form.store.serving_agency_id, day=today)
    return rules.compute_refund(lines, policy=policy, fee_rate=fee_rate).net


def _refunded_net(form: RefundForm) -> Decimal:
    """What the traveler was paid: the counter's refund, else the Buy & Refund settlement."""
    paid = Refund.objects.filter(form=form, status=RefundStatus.PAID).first()
    if paid is not None:
        return paid.net_refund
    # A Buy & Refund form is refunded when its guarantee settles; the ledger entry
    # records the prepayment less what was charged back to the card.
    entry = next((e for e in reversed(record_history(form)) if e.action == "form_refunded"), None)
    try:
        return Decimal(str(entry.payload.get("net_refund"))) if entry else ZERO
    except ArithmeticError:
        return ZERO


def _next_step(
    form: RefundForm,
    verification: Verification | None,
    prepayment: Prepayment | None,
    net: Decimal,
    lang: str,
) -> dict[str, str]:
    mailbox = verification is not None and verification.channel == VerificationChannel.MAILBOX
    values: dict[str, str] = {}
    if prepayment is not None and form.status == FormStatus.ISSUED:
        # Buy & Refund: paid at the store; customs must still see the goods in time.
        code = "next_prepaid"
        guarantee = getattr(prepayment, "guarantee", None)
        values["deadline"] = guarantee.deadline.isoformat() if guarantee else ""
    elif prepayment is not None and form.status == FormStatus.VERIFIED:
        code = "next_prepaid_verified"
    elif prepayment is not None and form.status == FormStatus.PARTIALLY_VERIFIED:
        code = "next_prepaid_partial"
    elif form.status == FormStatus.ISSUED:
        decision = inspection_for(form)
        if decision is None:
            code = "next_customs"
        else:
            code = "next_red_lane" if decision.selected else "next_green_lane"
    elif form.status in VERIFIED_STATUSES and mailbox:
        code = "next_mailbox"
    elif form.status == FormStatus.VERIFIED:
        code = "next_counter"
    elif form.status == FormStatus.PARTIALLY_VERIFIED:
        code = "next_counter_partial"
    elif form.status == FormStatus.REFUNDED:
        code = "next_refunded"
        values["amount"] = money(lang, money_str(net))
    elif form.status == FormStatus.REJECTED:
        code = "next_rejected"
    else:
        code = "next_voided"
    return {"code": code.removeprefix("next_"), "text": text(lang, code, **values)}


def _payout_options(
    form: RefundForm,
    net: Decimal,
    verification: Verification | None,
    prepayment: Prepayment | None,
    lang: str,
) -> list[dict[str, Any]]:
    """Cash within the invoice-date policy's cap and never for mailbox forms; transfers always.

    None once the refund is paid, refused or cancelled, or prepaid at the store.
    """
    if prepayment is not None or form.status not in (FormStatus.ISSUED, *VERIFIED_STATUSES):
        return []
    cash_cap = rules.in_force(policies_all(), form.purchase_date).cash_cap
    mailbox = verification is not None and verification.channel == VerificationChannel.MAILBOX
    options = []
    for method in PayoutMethod:
        allowed = rules.payout_allowed(
            method=method.value, net_refund=net, cash_cap=cash_cap, mailbox=mailbox
        )
        reason = ""
        if not allowed:
            reason = (
                text(lang, "why_mailbox")
                if mailbox
                else text(lang, "why_cash_cap", cap=money(lang, money_str(cash_cap)))
            )
        options.append(
            {
                "method": method.value,
                "name": text(lang, f"pay_{method.value}"),
                "allowed": allowed,
                "reason": reason,
            }
        )
    return options


def _payment(
    form: RefundForm, verification: Verification | None, net: Decimal, lang: str
) -> dict[str, Any] | None:
    """How a paid refund was paid: method, masked account, amount, and why it differs.

    The estimate is the net refund printed on the form; a partial verification is the usual
    reason the traveler got less (verified goods against the printed total).
    """
    if form.status != FormStatus.REFUNDED:
        return None
    refund = Refund.objects.filter(form=form, status=RefundStatus.PAID).first()
    if refund is not None:
        method, account, paid_at = (
            refund.payout_method,
            refund.payout_account_masked,
            refund.paid_at,
        )
    else:  # Buy & Refund: paid at the store, settled by the guarantee
        prepayment = Prepayment.objects.filter(form=form).order_by("-created_at").first()
        if prepayment is None:
            return None
        method, account, paid_at = prepayment.payout_method, "", prepayment.paid_at
    verified = verification.verified_total if verification is not None else form.total
    why = {"code": "", "text": ""}
    if verified < form.total and net < form.net_refund:
        why = {
            "code": "partially_verified",
            "text": text(
                lang,
                "why_less_partial",
                verified=money(lang, money_str(verified)),
                printed=money(lang, money_str(form.total)),
            ),
        }
    elif net != form.net_refund:
        why = {"code": "rates", "text": text(lang, "why_less_other")}
    return {
        "method": method,
        "method_text": text(lang, f"pay_{method}") if method in PayoutMethod.values else method,
        "account": account,
        "amount": money_str(net),
        "estimate": money_str(form.net_refund),
        "printed_total": money_str(form.total),
        "verified_total": money_str(verified),
        "paid_at": timezone.localtime(paid_at).isoformat() if paid_at else None,
        "difference": why,
    }


def _timeline(form: RefundForm, lang: str) -> list[dict[str, Any]]:
    events = []
    for entry in record_history(form):
        key = f"ev_{entry.action}" if entry.action in TIMELINE_ACTIONS else "ev_other"
        at: datetime = timezone.localtime(entry.created_at)
        events.append(
            {
                "at": at.isoformat(),
                "action": entry.action,
                "status": entry.to_status,
                "text": text(lang, key),
            }
        )
    return events


def kiosk_lookup(*, form: Any, document_number: Any, lang: Any = None) -> KioskResult:
    """The form's status, amounts, next step, payout options and history for its traveler,
    with the traveler's other forms of the same trip (same document, same last entry).

    Raises ``KioskNotFound`` for any mismatch or bad input, all alike.
    """
    language = language_of(lang if isinstance(lang, str) else None)
    number = form_number_from_input(form)
    document = _document_ok(document_number)
    # Hash before looking anything up, so an unknown form costs what a wrong document costs.
    presented_hash = document_hash(document) if document is not None else ""
    record = (
        RefundForm.objects.select_related("store", "pre_choice").filter(number=number).first()
        if number is not None
        else None
    )
    if (
        record is None
        or not presented_hash
        or not hmac.compare_digest(presented_hash, record.document_hash)
    ):
        raise KioskNotFound("no form matches")
    today = timezone.localdate()
    others = list(
        RefundForm.objects.select_related("store", "pre_choice")
        .filter(document_hash=record.document_hash, last_entry_date=record.last_entry_date)
        .exclude(pk=record.pk)
        .order_by("-issued_at", "-number")[:MAX_TRIP_FORMS]
    )
    trip = [
        form_view(record=other, lang=language, today=today).as_dict() for other in reversed(others)
    ]
    return replace(form_view(record=record, lang=language, today=today), trip=trip)


def form_view(*, record: RefundForm, lang: str, today: Any) -> KioskResult:
    """What the kiosk shows of one form (its trip left empty)."""
    language = lang
    verification = verification_for(record)
    prepayment = (
        Prepayment.objects.select_related("guarantee")
        # Cash the clerk has not confirmed yet was still given out at the store: the
        # traveler holds a prepaid form either way (the counter refuses it too).
        .filter(
            form=record,
            status__in=[PrepaymentStatus.PAID, PrepaymentStatus.AWAITING_HANDOVER],
        )
        .first()
        if record.buy_and_refund
        else None
    )
    if record.status == FormStatus.REFUNDED:
        net = _refunded_net(record)
    elif prepayment is not None and record.status == FormStatus.ISSUED:
        net = prepayment.amount
    elif record.status in VERIFIED_STATUSES and verification is not None:
        net = _verified_net(record, verification, today)
    elif record.status == FormStatus.ISSUED:
        net = record.net_refund
    else:
        net = ZERO
    return KioskResult(
        number=record.number,
        lang=language,
        status=record.status,
        status_text=text(language, f"status_{record.status}"),
        total=record.total,
        net_refund=net,
        next_step=_next_step(record, verification, prepayment, net, language),
        timeline=_timeline(record, language),
        payout_options=_payout_options(record, net, verification, prepayment, language),
        estimate=record.net_refund,
        payment=_payment(record, verification, net, language),
        green_lane=_green_lane_possible(record),
        payout_choice=pre_choice_dict(record),
    )


def _green_lane_possible(form: RefundForm) -> bool:
    """Issued, and not selected for inspection (undecided: the green lane decides it first)."""
    if form.status != FormStatus.ISSUED:
        return False
    decision = inspection_for(form)
    return decision is None or not decision.selected


def device_for_key(*, key: str) -> Device | None:
    """The active device holding ``key``, or None (unknown or revoked)."""
    if not key or len(key) > MAX_INPUT_LENGTH:
        return None
    return (
        Device.objects.select_related("port")
        .filter(key_hash=hashlib.sha256(key.encode()).hexdigest(), revoked_at__isnull=True)
        .first()
    )
