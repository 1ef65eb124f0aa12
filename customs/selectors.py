"""Reads of customs records; the stamp check agencies rely on (check C)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from core.ledger import ledger_head_annotate
from core.models import Port
from core.money import ZERO, money_str
from core.prepared import PreparedObjects
from core.refcache import reference_cached
from customs.models import (
    InspectionDecision,
    MailboxBatch,
    MailboxBatchItem,
    RiskRule,
    RiskRuleKind,
    Verification,
    VerificationLine,
)
from customs.rules import RiskFacts, RiskRuleSpec
from customs.stamps import stamp_message, stamp_verify
from stores.models import FormStatus, RefundForm, RefundFormLine

# --- Stamps --------------------------------------------------------------------------


def stamp_body_of(
    *,
    form_number: str,
    port_code: str,
    key_id: str,
    officer: str,
    channel: str,
    result: str,
    departure_date: date,
    flight: str,
    verified_at: datetime,
    verified_total: Decimal,
    lines: Iterable[tuple[int, Decimal]],
) -> dict[str, Any]:
    """What a stamp commits to, in one canonical form (2-place strings, UTC time)."""
    return {
        "form": form_number,
        "port": port_code,
        "key_id": key_id,
        "officer": officer,
        "channel": channel,
        "result": result,
        "departure_date": departure_date.isoformat(),
        "flight": flight,
        "verified_at": verified_at.astimezone(UTC).isoformat(),
        "verified_total": money_str(verified_total),
        "lines": [
            {"line": line_id, "quantity_presented": money_str(quantity)}
            for line_id, quantity in sorted(lines)
        ],
    }


def stamp_body(verification: Verification) -> dict[str, Any]:
    """What a stamp commits to, rebuilt from the stored rows."""
    return stamp_body_of(
        form_number=verification.form.number,
        port_code=verification.port.code,
        key_id=verification.stamp_key_id,
        officer=verification.officer_label,
        channel=verification.channel,
        result=verification.result,
        departure_date=verification.departure_date,
        flight=verification.flight,
        verified_at=verification.verified_at,
        verified_total=verification.verified_total,
        lines=[(line.form_line_id, line.quantity_presented) for line in verification.lines.all()],
    )


def stamp_is_valid(verification: Verification) -> bool:
    """The stored stamp is the port's signature over exactly the stored verification."""
    message = stamp_message(stamp_body(verification))
    return message == verification.stamp_message and stamp_verify(
        verification.port.code, verification.stamp_message, verification.stamp_signature
    )


def verification_for(form: RefundForm) -> Verification | None:
    """The form's verification with port, officer and lines loaded, or None."""
    return (
        Verification.objects.select_related("port", "officer", "form")
        .prefetch_related(
            Prefetch("lines", queryset=VerificationLine.objects.select_related("form_line"))
        )
        .filter(form=form)
        .first()
    )


def verified_quantities(verification: Verification) -> dict[int, Decimal]:
    """Form line id -> quantity presented."""
    return {line.form_line_id: line.quantity_presented for line in verification.lines.all()}


# --- Forms as customs sees them ----------------------------------------------------


def form_for_customs(*, number: str) -> RefundForm | None:
    """A form with its store and lines loaded, or None."""
    return (
        RefundForm.objects.select_related("store")
        .prefetch_related("lines")
        .filter(number=number)
        .first()
    )


def inspection_for(form: RefundForm) -> InspectionDecision | None:
    """The form's inspection decision (red/green lane), or None if not decided yet."""
    return InspectionDecision.objects.select_related("port", "rule").filter(form=form).first()


def verifications_on(*, port: Port, day: date) -> QuerySet[Verification]:
    """A port's verifications of one business day, newest first."""
    return (
        Verification.objects.filter(port=port, verified_at__date=day)
        .select_related("form", "form__store", "officer", "port")
        .order_by("-verified_at")
    )


def inspection_queue(*, port: Port) -> QuerySet[InspectionDecision]:
    """Forms selected for inspection at this port and not verified yet, oldest first."""
    return (
        InspectionDecision.objects.filter(port=port, selected=True, form__status=FormStatus.ISSUED)
        .select_related("form", "form__store", "rule")
        .order_by("decided_at")
    )


# --- Inspection facts ------------------------------------------------------------------


def risk_rules_for(*, port: Port) -> list[RiskRuleSpec]:
    """The active risk rules of this port and of every port, in order."""
    return reference_cached(
        ("risk-rules", port.pk),
        lambda: [
            RiskRuleSpec(
                id=rule.pk,
                name=rule.name,
                kind=rule.kind,
                amount=rule.amount,
                values=rule.value_list(),
            )
            for rule in RiskRule.objects.filter(Q(port=port) | Q(port__isnull=True), active=True)
        ],
    )


def risk_facts(
    *, form: RefundForm, lines: Iterable[RefundFormLine], rules: Iterable[RiskRuleSpec]
) -> RiskFacts:
    """The facts the rules need; counts over other forms only when a rule asks for them."""
    kinds = {rule.kind for rule in rules}
    same_day = 1
    if RiskRuleKind.FORMS_PER_DOCUMENT_DAY in kinds:
        same_day = (
            RefundForm.objects.filter(
                document_hash=form.document_hash, purchase_date=form.purchase_date
            )
            .exclude(status=FormStatus.VOIDED)
            .count()
        )
    open_total = form.total
    if RiskRuleKind.DOCUMENT_OPEN_TOTAL in kinds:
        open_total = (
            RefundForm.objects.filter(
                document_hash=form.document_hash, status=FormStatus.ISSUED
            ).aggregate(total=Sum("total"))["total"]
            or ZERO
        )
    return RiskFacts(
        total=form.total,
        nationality=form.nationality,
        store_code=form.store.code,
        items=[(line.item, line.total) for line in lines],
        forms_same_document_day=same_day,
        document_open_total=open_total,
    )


# --- Mailbox --------------------------------------------------------------------------


def _with_counts(queryset: QuerySet[MailboxBatch]) -> QuerySet[MailboxBatch]:
    return queryset.annotate(
        scanned_count=Count("items"),
        verified_count=Count("items", filter=~Q(items__result="refused")),
        refused_count=Count("items", filter=Q(items__result="refused")),
        verified_sum=Sum("items__verification__verified_total"),
    )


def mailbox_batches(*, port: Port) -> QuerySet[MailboxBatch]:
    """A port's mailbox batches, newest first, with running counts."""
    return _with_counts(
        MailboxBatch.objects.filter(port=port).select_related("opened_by", "closed_by")
    ).order_by("-opened_at")


def mailbox_batch_get(*, port: Port, batch_id: int) -> MailboxBatch | None:
    """One batch of this port with its counts, or None."""
    return mailbox_batches(port=port).filter(pk=batch_id).first()


def mailbox_items(*, batch: MailboxBatch) -> QuerySet[MailboxBatchItem]:
    """The scans of a batch, latest first, with their verifications."""
    return (
        MailboxBatchItem.objects.filter(batch=batch)
        .select_related("verification", "verification__form", "scanned_by")
        .order_by("-position")
    )


def verification_reply(verification: Verification) -> Verification:
    """What the reply to a verification shows: the service's own objects when they hold it
    all (no query), else ``verification_detail``."""
    form = verification.form if Verification.form.is_cached(verification) else None
    decision = getattr(form, "inspection_decision", None) if form is not None else None
    ready = (
        form is not None
        and Verification.port.is_cached(verification)
        and "lines" in getattr(verification, "_prefetched_objects_cache", {})
        and decision is not None
        and InspectionDecision.port.is_cached(decision)
        and (decision.rule_id is None or InspectionDecision.rule.is_cached(decision))
    )
    return verification if ready else verification_detail(pk=verification.pk)


def verification_detail(*, pk: int) -> Verification:
    """One verification with everything its reply shows, in a fixed number of queries."""
    return (
        Verification.objects.select_related(
            "form",
            "form__inspection_decision__port",
            "form__inspection_decision__rule",
            "port",
            "officer",
        )
        .prefetch_related("lines__form_line")
        .get(pk=pk)
    )


# --- The verification's reads, prepared (issue 12: built and compiled once per process) ---

_FORM_LOCKED = PreparedObjects(
    RefundForm,
    lambda number: ledger_head_annotate(RefundForm.objects.select_for_update(of=("self",))).filter(
        number=number
    ),
    "number",
    # The one-to-ones the verification uses come with the locked row: the phone page (the
    # verified notice's address) and the inspection decision with its port and rule. A
    # decision is made once under this lock and never changes; one made by a request that
    # held the lock while this one waited is not seen here (PostgreSQL returns the joined
    # rows as they were when the statement started), which the decision's insert resolves
    # (``customs.services._decide_locked``: its unique form lets the first one stand).
    related=(
        "store",
        "traveler_page",
        "inspection_decision",
        "inspection_decision__port",
        "inspection_decision__rule",
    ),
    annotations=("ledger_chain_seq", "ledger_chain_hash"),
)
_FORM_LINES = PreparedObjects(
    RefundFormLine,
    lambda number: RefundFormLine.objects.filter(form__number=number).order_by("position"),
    "number",
)


def form_locked_for_verification(*, number: str) -> RefundForm | None:
    """``stores.selectors.form_lock``'s row lock and columns (with its store and ledger
    head), prepared: the form row locked for update in the caller's transaction, or None.

    With it come the form's phone page and inspection decision (``form.inspection_decision``
    raises ``DoesNotExist`` without a query when there is none: see ``_FORM_LOCKED``)."""
    found = _FORM_LOCKED.objects(number=number)
    return found[0] if found else None


def form_lines_in_order(*, number: str) -> list[RefundFormLine]:
    """The form's lines by position (prepared)."""
    return _FORM_LINES.objects(number=number)  # type: ignore[no-any-return]
