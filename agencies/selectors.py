"""Agency reads: the assessment behind checks A-F and the amounts, refunds in scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from django.db.models import (
    Aggregate,
    CharField,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Subquery,
)

from agencies.models import (
    LIVE_REFUND_STATUSES,
    PayoutMethod,
    Prepayment,
    Refund,
    RefundStatus,
)
from core import rules
from core.crypto import document_hash
from core.models import StaffMembership, StaffRole
from core.money import ZERO, money_str, rate_str
from core.prepared import PreparedObjects
from core.selectors import fee_rate_on, policies_all, prefetched_set
from core.signing import ParsedQr
from customs.models import Verification, VerificationChannel, VerificationLine
from customs.selectors import stamp_is_valid, verification_for
from stores.models import FormStatus, RefundForm, RefundFormLine, VatInvoice
from stores.selectors import content_digest, form_content, form_current_digest

VERIFIED_STATUSES = (FormStatus.VERIFIED, FormStatus.PARTIALLY_VERIFIED)


@dataclass(frozen=True)
class PayoutOption:
    """Whether one payout method may be used for this refund, and why not."""

    method: str
    allowed: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "allowed": self.allowed, "reason": self.reason}


@dataclass(frozen=True)
class RefundAssessment:
    """Everything the counter needs before paying: checks A-F, amounts, payout options.

    ``computation`` is the FAQ Q36 computation on the verified goods (None until
    customs has verified some goods); ``policy`` is the invoice-date policy and
    ``cash_cap`` the cap of the policy the invoice date picks.
    """

    form: RefundForm
    verification: Verification | None
    checks: list[rules.Check]
    computation: rules.Computation | None
    policy: rules.Policy
    fee_rate: Decimal
    cash_cap: Decimal
    mailbox: bool
    refund_date: date
    existing: Refund | None = None
    payout_options: list[PayoutOption] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def net_refund(self) -> Decimal:
        return self.computation.net if self.computation else ZERO

    def option(self, method: str) -> PayoutOption | None:
        return next((o for o in self.payout_options if o.method == method), None)

    def checks_as_dicts(self) -> list[dict[str, Any]]:
        return [check.as_dict() for check in self.checks]

    def amounts(self) -> dict[str, str]:
        """Verified base, refundable, fee and net as API money strings."""
        comp = self.computation
        return {
            "verified_total": money_str(comp.total if comp else ZERO),
            "refundable_vat": money_str(comp.refundable if comp else ZERO),
            "fee": money_str(comp.fee if comp else ZERO),
            "net_refund": money_str(comp.net if comp else ZERO),
        }


def groups_as_dicts(computation: rules.Computation) -> list[dict[str, str]]:
    """Rate groups as stored on the refund and shown on the receipt."""
    return [
        {
            "vat_rate": rate_str(g.vat_rate),
            "refund_rate": rate_str(g.refund_rate),
            "total": money_str(g.total),
            "refundable": money_str(g.refundable),
            "fee": money_str(g.fee),
            "net": money_str(g.net),
        }
        for g in computation.groups
    ]


def _missing_fields(form: RefundForm, line_count: int) -> list[str]:
    missing = [
        name
        for name in (
            "traveler_name",
            "document_type",
            "document_hash",
            "nationality",
            "last_entry_date",
            "purchase_date",
            "content_digest",
            "qr_payload",
        )
        if not getattr(form, name)
    ]
    missing += [
        f"store_{name}" for name in ("name", "taxpayer_id") if not getattr(form.store, name)
    ]
    if not form.total or form.total <= 0:
        missing.append("total")
    if line_count == 0:
        missing.append("lines")
    return missing


def _verified_lines(verification: Verification | None) -> list[rules.LineFacts]:
    """Per VAT rate, the VAT-inclusive total of the quantities customs verified (from the
    verification's lines, loaded with their form lines by ``verification_for``)."""
    if verification is None or verification.result not in VERIFIED_STATUSES:
        return []
    totals: dict[Decimal, Decimal] = {}
    for line in verification.lines.all():
        if line.verified_total > 0:
            rate = line.form_line.vat_rate
            totals[rate] = totals.get(rate, ZERO) + line.verified_total
    return [rules.LineFacts(vat_rate=rate, total=totals[rate]) for rate in sorted(totals)]


def refund_assess(
    *,
    form: RefundForm,
    qr: ParsedQr | None,
    document_number: str,
    document_type: str | None,
    agency_id: int,
    refund_date: date,
    existing: Refund | None = None,
    verification: Verification | Literal["read"] | None = "read",
    form_lines: Sequence[RefundFormLine] | None = None,
    invoice_numbers: Sequence[str] | None = None,
    prepaid: bool | None = None,
) -> RefundAssessment:
    """Run checks A-F (FAQ Q37(3)) and compute the amounts on the verified goods.

    ``qr`` None is the damaged-QR path (number and document typed): check F then
    compares the record alone (its content digest, not voided, not refunded).
    ``verification``: the form's, already read with its lines (written once, never
    changed), else it is read here. ``form_lines`` and ``invoice_numbers``: the form's rows as
    the caller read them (``counter_lines``, ``counter_form_lock``), else read here;
    ``prepaid`` likewise. A fixed number of queries whatever the lines.
    """
    if verification == "read":
        verification = verification_for(form)
    if form_lines is not None and invoice_numbers is not None:
        record_digest = _digest_of(form, form_lines, invoice_numbers)
        line_count = len(form_lines)
    else:
        record_digest = form_current_digest(form)
        line_count = len(verification.lines.all()) if verification else form.lines.count()
    if prepaid is None:
        prepaid = form_prepaid(form)
    customs_verified = (
        verification is not None
        and verification.result in VERIFIED_STATUSES
        and form.status in (*VERIFIED_STATUSES, FormStatus.REFUNDED)
    )
    facts = rules.AgencyFacts(
        missing_fields=_missing_fields(form, line_count),
        document_type_matches=document_type is None or document_type == form.document_type,
        document_number_matches=bool(document_number.strip())
        and document_hash(document_number) == form.document_hash,
        customs_verified=customs_verified,
        customs_signature_valid=verification is not None and stamp_is_valid(verification),
        departure_date=verification.departure_date if verification else None,
        last_entry_date=form.last_entry_date,
        purchase_dates=[form.purchase_date] if form.purchase_date else [],
        qr_signature_valid=qr is None or (qr.signature_valid and qr.number == form.number),
        qr_digest_matches=(qr is None or qr.matches_digest(form.content_digest))
        and record_digest == form.content_digest,
        voided=form.status == FormStatus.VOIDED,
        already_refunded=form.status == FormStatus.REFUNDED
        or (
            existing is not None
            and existing.status in (RefundStatus.PAID, RefundStatus.AWAITING_HANDOVER)
        )
        or prepaid,
        document_expires_on=form.document_expires_on,
        refund_date=refund_date,
    )
    checks = rules.agency_checks(facts)

    policies = policies_all()
    # The invoice (purchase) date picks the whole policy, cash cap included (SPEC §2).
    policy = rules.in_force(policies, form.purchase_date)
    cash_cap = policy.cash_cap
    fee_rate = fee_rate_on(agency_id=agency_id, day=refund_date)
    lines = _verified_lines(verification)
    computation = rules.compute_refund(lines, policy=policy, fee_rate=fee_rate) if lines else None
    mailbox = verification is not None and verification.channel == VerificationChannel.MAILBOX
    net = computation.net if computation else ZERO
    options = []
    for method in PayoutMethod:
        allowed = rules.payout_allowed(
            method=method.value, net_refund=net, cash_cap=cash_cap, mailbox=mailbox
        )
        reason = ""
        if not allowed and mailbox:
            reason = "Mailbox forms are paid by transfer only."
        elif not allowed:
            reason = (
                f"The net refund RMB {money_str(net)} is over the cash cap"
                f" RMB {money_str(cash_cap)}: transfer only."
            )
        options.append(PayoutOption(method=method.value, allowed=allowed, reason=reason))
    return RefundAssessment(
        form=form,
        verification=verification,
        checks=checks,
        computation=computation,
        policy=policy,
        fee_rate=fee_rate,
        cash_cap=cash_cap,
        mailbox=mailbox,
        refund_date=refund_date,
        existing=existing,
        payout_options=options,
    )


def form_prepaid(form: RefundForm) -> bool:
    """A Buy & Refund prepayment was paid at the store and not returned: nothing more to pay."""
    return (
        form.buy_and_refund
        and Prepayment.objects.filter(form=form, status__in=["paid", "awaiting_handover"]).exists()
    )


class _Joined(Aggregate):
    """A group's text values joined with commas (SQLite group_concat, PostgreSQL string_agg)."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s)"
    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(%(expressions)s, ',')",
            **extra,
        )


def _invoice_numbers() -> Subquery:
    return Subquery(
        VatInvoice.objects.filter(form_id=OuterRef("pk"))
        .order_by()
        .values("form_id")
        .annotate(numbers=_Joined("number"))
        .values("numbers")
    )


# Built and compiled once per process (core.prepared): on the counter's hot path the
# ORM's query building cost more than the statements themselves (issue 12).
_COUNTER_FORM = PreparedObjects(
    RefundForm,
    lambda number: (
        RefundForm.objects.select_for_update(of=("self",))
        .annotate(invoice_numbers=_invoice_numbers())
        .filter(number=number)
    ),
    "number",
    related=("store", "verification", "verification__port"),
    annotations=("invoice_numbers",),
)


def counter_form_lock(*, number: str) -> RefundForm | None:
    """The form locked for the counter's refund transaction, or None; one statement.

    With the row come its store, its verification and port (``form.verification``) and
    its invoice numbers (``form.invoice_numbers``, comma-joined, for check F). Only the
    form row is locked, and only its own columns are re-read if the lock had to wait
    (PostgreSQL, READ COMMITTED): what a concurrent writer may have added meanwhile is
    read after the lock (``counter_lines``).
    """
    found = _COUNTER_FORM.objects(number=number)
    return found[0] if found else None


def counter_verification(form: RefundForm) -> Verification | None:
    """The verification read with ``counter_form_lock`` (None: customs has not decided)."""
    try:
        verification: Verification = form.verification
    except Verification.DoesNotExist:
        return None
    return verification


def counter_invoice_numbers(form: RefundForm) -> list[str]:
    """The invoice numbers read with ``counter_form_lock``."""
    numbers: str = getattr(form, "invoice_numbers", None) or ""
    return numbers.split(",") if numbers else []


@dataclass(frozen=True)
class CounterFacts:
    """What other writers may change while the counter waits for the form's lock, read
    after it: the live refund (at most one: a unique constraint), whether a Buy & Refund
    prepayment was paid, the verification's id (written once: the row read with the form
    is current when the ids agree)."""

    live_refund_id: int | None
    prepayment_paid: bool
    verification_id: int | None


def _live_refund_id() -> Subquery:
    return Subquery(
        Refund.objects.filter(form_id=OuterRef("form_id"), status__in=LIVE_REFUND_STATUSES).values(
            "pk"
        )[:1]
    )


def _prepayment_paid() -> Exists:
    return Exists(
        Prepayment.objects.filter(
            form_id=OuterRef("form_id"), status__in=["paid", "awaiting_handover"]
        )
    )


def _verification_id() -> Subquery:
    return Subquery(Verification.objects.filter(form_id=OuterRef("form_id")).values("pk")[:1])


_COUNTER_LINES = PreparedObjects(
    RefundFormLine,
    lambda number: (
        RefundFormLine.objects.filter(form__number=number)
        .annotate(
            form_live_refund_id=_live_refund_id(),
            form_prepayment_paid=_prepayment_paid(),
            form_verification_id=_verification_id(),
        )
        .order_by("position")
    ),
    "number",
    related=("verification_line",),
    annotations=("form_live_refund_id", "form_prepayment_paid", "form_verification_id"),
)


def counter_lines(
    form: RefundForm, verification: Verification | None
) -> tuple[list[RefundFormLine], CounterFacts]:
    """The form's lines, each with its verification line, and the facts other writers may
    have changed (``CounterFacts``, on every line: read after the form's lock, in the same
    statement); the verification's lines (``verification.lines.all()``) are set from them.
    """
    lines: list[RefundFormLine] = _COUNTER_LINES.objects(number=form.number)
    if lines:
        first: Any = lines[0]
        facts = CounterFacts(
            live_refund_id=first.form_live_refund_id,
            prepayment_paid=bool(first.form_prepayment_paid),
            verification_id=first.form_verification_id,
        )
    else:  # no lines (check A fails): the facts on their own
        row = (
            RefundForm.objects.filter(pk=form.pk)
            .annotate(form_id=F("pk"))
            .values(live=_live_refund_id(), paid=_prepayment_paid(), verified=_verification_id())
            .get()
        )
        facts = CounterFacts(
            live_refund_id=row["live"],
            prepayment_paid=bool(row["paid"]),
            verification_id=row["verified"],
        )
    facts = replace(facts, prepayment_paid=form.buy_and_refund and facts.prepayment_paid)
    if verification is not None:
        verified: list[VerificationLine] = []
        for line in lines:
            try:
                verification_line = line.verification_line
            except VerificationLine.DoesNotExist:
                continue
            if verification_line.verification_id == verification.pk:
                verified.append(verification_line)
        prefetched_set(verification, "lines", verified)
    return lines, facts


def _digest_of(
    form: RefundForm, lines: Sequence[RefundFormLine], invoice_numbers: Sequence[str]
) -> str:
    """The form's content digest recomputed from rows in hand (``form_current_digest``)."""
    return content_digest(
        form_content(
            number=form.number,
            store_code=form.store.code,
            traveler_name=form.traveler_name,
            document_type=form.document_type,
            document_hash=form.document_hash,
            nationality=form.nationality,
            last_entry_date=form.last_entry_date,
            purchase_date=form.purchase_date,
            invoice_numbers=invoice_numbers,
            lines=[
                {
                    "position": line.position,
                    "item": line.item,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "vat_rate": line.vat_rate,
                    "total": line.total,
                }
                for line in lines
            ],
            total=form.total,
        )
    )


def live_refund_of(form: RefundForm) -> Refund | None:
    """The form's pending, paid or failed refund, if any (at most one: DB constraint)."""
    return Refund.objects.filter(form=form, status__in=LIVE_REFUND_STATUSES).first()


def form_for_counter(*, number: str) -> RefundForm | None:
    """A form with what the counter shows (store, traveler, lines, verification), or None."""
    return (
        RefundForm.objects.select_related("store", "policy")
        .prefetch_related("lines", "invoices")
        .filter(number=number.strip())
        .first()
    )


def refunds_for_agency(*, agency_id: int) -> QuerySet[Refund]:
    """An agency's refunds, newest first, with what lists and receipts show."""
    return Refund.objects.filter(agency_id=agency_id).select_related(
        "form", "form__store", "agent", "port", "agency"
    )


def refunds_in_scope(*, membership: StaffMembership | None) -> QuerySet[Refund]:
    """Refunds the member may read: an agent their agency's; a clerk those of their store's
    forms (the form detail shows them); the authority's analyst all."""
    refunds = Refund.objects.select_related("form", "form__store", "agent", "port", "agency")
    if membership is not None and membership.role == StaffRole.ANALYST:
        return refunds
    if membership is not None and membership.role == StaffRole.CLERK and membership.store_id:
        return refunds.filter(form__store_id=membership.store_id)
    if membership is not None and membership.role == StaffRole.AGENT and membership.agency_id:
        return refunds.filter(agency_id=membership.agency_id)
    return refunds.none()


def refund_of_agency(*, agency_id: int, refund_id: int) -> Refund | None:
    """One refund if it belongs to the agency, else None (other agencies' refunds are hidden)."""
    return refunds_for_agency(agency_id=agency_id).filter(pk=refund_id).first()


def refund_totals(refunds: Sequence[Refund]) -> dict[str, Decimal]:
    """Sums of refundable, fee and net over some refunds."""
    return {
        "refundable_vat": sum((r.refundable_vat for r in refunds), ZERO),
        "fee": sum((r.fee for r in refunds), ZERO),
        "net_refund": sum((r.net_refund for r in refunds), ZERO),
    }
