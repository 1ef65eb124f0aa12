"""What the traveler's kiosk shows: one read-only lookup by form and document.

The lookup answers one way for every mismatch (``KioskNotFound``): an unknown
form, a wrong document, a forged or garbled QR and malformed fields all look
the same from outside, so the kiosk cannot be used to probe for forms or
documents. The document hash is computed even when the form is unknown, so the
two cases also take about the same time.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, FilteredRelation, Q, QuerySet, Subquery, Sum, Value, When
from django.utils import timezone

from agencies.guarantee_models import Prepayment, PrepaymentStatus
from agencies.models import PayoutMethod, RefundStatus
from core import rules
from core.crypto import document_hash, normalize_document_number
from core.models import LedgerEntry
from core.money import ZERO, money_str
from core.numbering import is_valid_form_number
from core.prepared import PreparedValues
from core.selectors import fee_rate_on, policies_all
from core.signing import FORM_NUMBER_LENGTH, QR_LENGTH, QR_PREFIX, MalformedQr, parse_form_qr
from customs.models import VerificationChannel, VerificationLine
from kiosk.i18n import language_of, money, text
from kiosk.models import Device
from stores.models import FormStatus, RefundForm

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


def form_number_named(value: Any) -> str | None:
    """The form number the input names, a QR's signature not checked yet: only to read the
    form's lock ahead (the lookup itself goes by ``form_number_from_input``)."""
    if not isinstance(value, str) or len(value) > MAX_INPUT_LENGTH:
        return None
    typed = "".join(value.split()).upper()
    if len(typed) == QR_LENGTH and typed.startswith(QR_PREFIX):
        typed = typed[len(QR_PREFIX) : len(QR_PREFIX) + FORM_NUMBER_LENGTH]
    return typed if is_valid_form_number(typed) else None


def _document_ok(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_INPUT_LENGTH or not value.strip():
        return None
    return value


@dataclass
class _Form:
    """One form's row as the lookup reads it: its own columns and its one-to-one neighbours."""

    id: int
    number: str
    status: str
    total: Decimal
    net_refund: Decimal
    purchase_date: Any
    buy_and_refund: bool
    agency_id: int | None
    verification_id: int | None
    channel: str | None
    verified_total: Decimal | None
    inspected: bool | None  # selected for inspection; None: not decided
    choice: dict[str, Any] | None
    paid: dict[str, Any] | None  # the paid refund: net_refund, payout_method, account, paid_at


# What the lookup reads of a form and its one-to-one neighbours, in one statement (the paid
# refund: at most one per form, refund_one_live_per_form).
FORM_COLUMNS = (
    "id",
    "number",
    "status",
    "total",
    "net_refund",
    "purchase_date",
    "buy_and_refund",
    "store__serving_agency_id",
    "verification__id",
    "verification__channel",
    "verification__verified_total",
    "inspection_decision__selected",
    "pre_choice__id",
    "pre_choice__payout_method",
    "pre_choice__payout_account_masked",
    "pre_choice__status",
    "pre_choice__failure_code",
    "paid__id",
    "paid__net_refund",
    "paid__payout_method",
    "paid__payout_account_masked",
    "paid__paid_at",
)


def _form_of(row: tuple[Any, ...]) -> _Form:
    (
        pk,
        number,
        status,
        total,
        net_refund,
        purchase_date,
        buy_and_refund,
        agency_id,
        verification_id,
        channel,
        verified_total,
        inspected,
        choice_id,
        choice_method,
        choice_account,
        choice_status,
        choice_failure,
        paid_id,
        paid_net,
        paid_method,
        paid_account,
        paid_at,
    ) = row
    return _Form(
        id=pk,
        number=number,
        status=status,
        total=total,
        net_refund=net_refund,
        purchase_date=purchase_date,
        buy_and_refund=buy_and_refund,
        agency_id=agency_id,
        verification_id=verification_id,
        channel=channel,
        verified_total=verified_total,
        inspected=inspected,
        choice=None
        if choice_id is None
        else {
            "payout_method": choice_method,
            "payout_account": choice_account,
            "status": choice_status,
            "failure_code": choice_failure or None,
        },
        paid=None
        if paid_id is None
        else {
            "net_refund": paid_net,
            "method": paid_method,
            "account": paid_account,
            "paid_at": paid_at,
        },
    )


def _trip_query(*, number: str, document_hash: str) -> QuerySet[RefundForm]:
    """The forms of this document hash whose last entry is the form's (none if it is not)."""
    mine = RefundForm.objects.filter(document_hash=document_hash)
    entry = mine.filter(number=number).values("last_entry_date")[:1]
    return mine.filter(last_entry_date=Subquery(entry))


# Built and compiled once per process (core.prepared): the lookup's reads are its cost.
TRIP_FORMS = PreparedValues(
    lambda number, document_hash: (
        _trip_query(number=number, document_hash=document_hash)
        .annotate(
            paid=FilteredRelation("refunds", condition=Q(refunds__status=RefundStatus.PAID)),
            own=Case(When(number=number, then=Value(0)), default=Value(1)),
        )
        .order_by("own", "-issued_at", "-number")
        .values_list(*FORM_COLUMNS)[: MAX_TRIP_FORMS + 1]
    ),
    "number",
    "document_hash",
)
TRIP_VERIFIED_GOODS = PreparedValues(
    lambda number, document_hash: (
        VerificationLine.objects.filter(
            verification__form__in=_trip_query(number=number, document_hash=document_hash),
            verified_total__gt=0,
        )
        .values_list("verification_id", "form_line__vat_rate")
        .annotate(total=Sum("verified_total"))
        .order_by("verification_id", "form_line__vat_rate")
    ),
    "number",
    "document_hash",
)
HISTORIES = PreparedValues(
    lambda ids: (
        LedgerEntry.objects.filter(record_type=RefundForm._meta.label_lower, record_id__in=ids)
        .order_by("record_id", "seq")
        .values_list("record_id", "action", "to_status", "created_at", "payload")
    ),
    "ids",
)


def _trip_forms(*, number: str, presented_hash: str) -> list[_Form]:
    """The form (first) and the latest other forms of its trip, if the document matches.

    One statement: an unknown form and a wrong document both find nothing.
    """
    rows = TRIP_FORMS.rows(number=number, document_hash=presented_hash)
    forms = [_form_of(row) for row in rows]
    if forms and forms[0].number != number:  # cannot happen: the form sorts first
        return []
    return forms


def _verified_nets(
    forms: list[_Form], today: Any, *, number: str, presented_hash: str
) -> dict[int, Decimal]:
    """FAQ Q36 on the verified goods: what the refund counter will pay, per form id."""
    verified = {
        form.verification_id: form
        for form in forms
        if form.status in VERIFIED_STATUSES and form.verification_id is not None
    }
    if not verified:
        return {}
    lines: dict[int, list[rules.LineFacts]] = {}
    for verification_id, vat_rate, total in TRIP_VERIFIED_GOODS.rows(
        number=number, document_hash=presented_hash
    ):
        lines.setdefault(verification_id, []).append(
            rules.LineFacts(vat_rate=vat_rate, total=total)
        )
    nets = {}
    for verification_id, form in verified.items():
        facts = lines.get(verification_id)
        if not facts:
            nets[form.id] = ZERO
            continue
        policy = rules.in_force(policies_all(), form.purchase_date)
        fee_rate = fee_rate_on(agency_id=form.agency_id, day=today)
        nets[form.id] = rules.compute_refund(facts, policy=policy, fee_rate=fee_rate).net
    return nets


def _histories(forms: list[_Form]) -> dict[str, list[tuple[Any, ...]]]:
    """Each form's ledger entries in order (action, to_status, created_at, payload), by id."""
    histories: dict[str, list[tuple[Any, ...]]] = {str(form.id): [] for form in forms}
    for record_id, *entry in HISTORIES.rows(ids=list(histories)):
        histories[record_id].append(tuple(entry))
    return histories


def _prepayments(forms: list[_Form]) -> dict[int, list[Prepayment]]:
    """The Buy & Refund forms' prepayments, newest first, with their guarantees, by form id."""
    ids = [form.id for form in forms if form.buy_and_refund]
    found: dict[int, list[Prepayment]] = {}
    if ids:
        for prepayment in Prepayment.objects.select_related("guarantee").filter(form_id__in=ids):
            found.setdefault(prepayment.form_id, []).append(prepayment)
    return found


def _refunded_net(form: _Form, history: list[tuple[Any, ...]]) -> Decimal:
    """What the traveler was paid: the counter's refund, else the Buy & Refund settlement."""
    if form.paid is not None:
        return form.paid["net_refund"]  # type: ignore[no-any-return]
    # A Buy & Refund form is refunded when its guarantee settles; the ledger entry
    # records the prepayment less what was charged back to the card.
    payload = next((e[3] for e in reversed(history) if e[0] == "form_refunded"), None)
    try:
        return Decimal(str(payload.get("net_refund"))) if payload is not None else ZERO
    except (ArithmeticError, AttributeError):
        return ZERO


def _next_step(
    form: _Form,
    prepayment: Prepayment | None,
    net: Decimal,
    lang: str,
) -> dict[str, str]:
    mailbox = form.channel == VerificationChannel.MAILBOX
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
        if form.inspected is None:
            code = "next_customs"
        else:
            code = "next_red_lane" if form.inspected else "next_green_lane"
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
    form: _Form, net: Decimal, prepayment: Prepayment | None, lang: str
) -> list[dict[str, Any]]:
    """Cash within the invoice-date policy's cap and never for mailbox forms; transfers always.

    None once the refund is paid, refused or cancelled, or prepaid at the store.
    """
    if prepayment is not None or form.status not in (FormStatus.ISSUED, *VERIFIED_STATUSES):
        return []
    cash_cap = rules.in_force(policies_all(), form.purchase_date).cash_cap
    mailbox = form.channel == VerificationChannel.MAILBOX
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
    form: _Form, prepayments: list[Prepayment], net: Decimal, lang: str
) -> dict[str, Any] | None:
    """How a paid refund was paid: method, masked account, amount, and why it differs.

    The estimate is the net refund printed on the form; a partial verification is the usual
    reason the traveler got less (verified goods against the printed total).
    """
    if form.status != FormStatus.REFUNDED:
        return None
    if form.paid is not None:
        method, account, paid_at = form.paid["method"], form.paid["account"], form.paid["paid_at"]
    elif prepayments:  # Buy & Refund: paid at the store, settled by the guarantee
        prepayment = prepayments[0]
        method, account, paid_at = prepayment.payout_method, "", prepayment.paid_at
    else:
        return None
    verified = form.verified_total if form.verified_total is not None else form.total
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


def _timeline(history: list[tuple[Any, ...]], lang: str) -> list[dict[str, Any]]:
    events = []
    for action, to_status, created_at, _payload in history:
        key = f"ev_{action}" if action in TIMELINE_ACTIONS else "ev_other"
        at: datetime = timezone.localtime(created_at)
        events.append(
            {"at": at.isoformat(), "action": action, "status": to_status, "text": text(lang, key)}
        )
    return events


def kiosk_lookup(*, form: Any, document_number: Any, lang: Any = None) -> KioskResult:
    """The form's status, amounts, next step, payout options and history for its traveler,
    with the traveler's other forms of the same trip (same document, same last entry).

    Raises ``KioskNotFound`` for any mismatch or bad input, all alike. Its statements do not
    grow with the form's lines or the trip's forms: the forms with their one-to-one
    neighbours, their ledger entries, and the verified goods or prepayments when some form
    has them.
    """
    language = language_of(lang if isinstance(lang, str) else None)
    number = form_number_from_input(form)
    document = _document_ok(document_number)
    # Hash before looking anything up, so an unknown form costs what a wrong document costs.
    presented_hash = document_hash(document) if document is not None else ""
    if number is None or not presented_hash:
        raise KioskNotFound("no form matches")
    forms = _trip_forms(number=number, presented_hash=presented_hash)
    if not forms:
        raise KioskNotFound("no form matches")
    today = timezone.localdate()
    nets = _verified_nets(forms, today, number=number, presented_hash=presented_hash)
    histories = _histories(forms)
    prepayments = _prepayments(forms)
    views = [
        _view(
            form,
            lang=language,
            verified_net=nets.get(form.id),
            history=histories[str(form.id)],
            prepayments=prepayments.get(form.id, []),
        )
        for form in forms
    ]
    # The trip oldest first, as the traveler made it.
    trip = [view.as_dict() for view in reversed(views[1:])]
    return replace(views[0], trip=trip)


def _view(
    form: _Form,
    *,
    lang: str,
    verified_net: Decimal | None,
    history: list[tuple[Any, ...]],
    prepayments: list[Prepayment],
) -> KioskResult:
    """What the kiosk shows of one form (its trip left empty)."""
    # Cash the clerk has not confirmed yet was still given out at the store: the
    # traveler holds a prepaid form either way (the counter refuses it too).
    prepayment = next(
        (
            p
            for p in prepayments
            if p.status in (PrepaymentStatus.PAID, PrepaymentStatus.AWAITING_HANDOVER)
        ),
        None,
    )
    if form.status == FormStatus.REFUNDED:
        net = _refunded_net(form, history)
    elif prepayment is not None and form.status == FormStatus.ISSUED:
        net = prepayment.amount
    elif verified_net is not None:
        net = verified_net
    elif form.status == FormStatus.ISSUED:
        net = form.net_refund
    else:
        net = ZERO
    return KioskResult(
        number=form.number,
        lang=lang,
        status=form.status,
        status_text=text(lang, f"status_{form.status}"),
        total=form.total,
        net_refund=net,
        next_step=_next_step(form, prepayment, net, lang),
        timeline=_timeline(history, lang),
        payout_options=_payout_options(form, net, prepayment, lang),
        estimate=form.net_refund,
        payment=_payment(form, prepayments, net, lang),
        green_lane=form.status == FormStatus.ISSUED and not form.inspected,
        payout_choice=form.choice,
    )


def device_for_key(*, key: str) -> Device | None:
    """The active device holding ``key``, or None (unknown or revoked)."""
    if not key or len(key) > MAX_INPUT_LENGTH:
        return None
    return (
        Device.objects.select_related("port")
        .filter(key_hash=hashlib.sha256(key.encode()).hexdigest(), revoked_at__isnull=True)
        .first()
    )
