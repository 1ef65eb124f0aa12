"""Store-side writes: issue VAT invoices, issue refund forms, void forms.

Every write service is atomic, validates, saves and appends its ledger entry
in the same transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import connections, router, transaction
from django.utils import timezone

from core import events, rules
from core.crypto import document_hash, encrypt_document, mask_document
from core.exceptions import BadRequest
from core.ledger import (
    LedgerItem,
    ledger_append,
    ledger_append_many,
    ledger_head_annotate,
    ledger_heads_update,
)
from core.models import LedgerEntry, Store
from core.money import ZERO, quantize_money
from core.numbering import form_number, invoice_number
from core.selectors import fee_rate_on, policy_id_of, policy_on, prefetched_set
from core.sequences import sequence_next
from core.signing import make_form_qr
from core.transitions import transition
from stores.exceptions import FormNotVoidable, FormRuleViolation, InvoiceNotFound
from stores.models import (
    FORM_TRANSITIONS,
    FormStatus,
    GoodsCategory,
    InvoiceKind,
    RefundForm,
    RefundFormLine,
    Traveler,
    VatInvoice,
    VatInvoiceLine,
)
from stores.selectors import content_digest, form_content, same_day_live_total
from stores.sql import insert_row, insert_rows, new_instance, quoted, row_reader, table

VAT_RATES = frozenset(
    Decimal(r)
    for r in ("0", "0.03", "0.05", "0.06", "0.09", "0.10", "0.11", "0.13", "0.16", "0.17")
)
MAX_LINES = 200
# Bounds that keep every figure inside its column and refuse absurd input early.
MAX_QUANTITY = Decimal("1000000")
MAX_UNIT_PRICE = Decimal("100000000")
MAX_INVOICE_TOTAL = Decimal("1000000000")
MAX_FORM_INVOICES = 100


def business_today() -> date:
    """Today in Asia/Shanghai, the date of every business rule."""
    return timezone.localdate()


@dataclass(frozen=True)
class InvoiceLineInput:
    """One goods line as the clerk or POS sends it (VAT-inclusive unit price)."""

    item: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    spec: str = ""
    unit: str = ""
    category: str = GoodsCategory.OTHER


def invoice_line_amounts(line: InvoiceLineInput) -> tuple[Decimal, Decimal, Decimal]:
    """(amount excl. VAT, VAT, total): total = qty x price; amount = total / (1 + rate)."""
    total = quantize_money(line.quantity * line.unit_price)
    amount = quantize_money(total / (1 + line.vat_rate))
    return amount, total - amount, total


def _line_error(index: int, field: str, message: str) -> BadRequest:
    return BadRequest(
        f"Line {index + 1}: {message}",
        "invalid",
        {"fields": {"lines": {str(index): {field: [message]}}}},
    )


def _check_line(index: int, line: InvoiceLineInput) -> None:
    """Refuse a line that no real invoice has: odd rates, signs, precision or sizes."""
    for field, value, bound in (
        ("quantity", line.quantity, MAX_QUANTITY),
        ("unit_price", line.unit_price, MAX_UNIT_PRICE),
    ):
        if not value.is_finite():
            raise _line_error(index, field, "A valid number is required.")
        if value <= 0:
            raise _line_error(index, field, "Must be greater than zero.")
        if value > bound:
            raise _line_error(index, field, f"Must be at most {bound}.")
        if value != value.quantize(Decimal("0.01")):
            raise _line_error(index, field, "At most 2 decimal places.")
    if not line.vat_rate.is_finite() or line.vat_rate not in VAT_RATES:
        raise _line_error(index, "vat_rate", f"{line.vat_rate} is not a VAT rate.")
    if not line.item.strip():
        raise _line_error(index, "item", "This field may not be blank.")
    if line.category not in GoodsCategory.values:
        raise _line_error(index, "category", f"{line.category!r} is not a goods category.")
    if quantize_money(line.quantity * line.unit_price) <= 0:
        raise _line_error(index, "quantity", "The line total rounds to RMB 0.00.")


def invoice_sequence_key(*, store: Store, day: date) -> str:
    """The counter behind a store region's invoice numbers for the year of ``day``."""
    return f"invoice:{day:%y}{store.region_code}"


@transaction.atomic
def invoice_issue(
    *,
    store: Store,
    clerk: User,
    buyer_name: str,
    lines: Sequence[InvoiceLineInput],
    issued_on: date | None = None,
) -> VatInvoice:
    """Issue an ordinary VAT invoice with a 20-digit number for the store's region."""
    day = issued_on or business_today()
    if day > business_today():
        raise BadRequest(
            "The invoice date cannot be in the future.",
            "invalid",
            {"fields": {"issued_on": ["The invoice date cannot be in the future."]}},
        )
    if not lines or len(lines) > MAX_LINES:
        raise BadRequest(f"An invoice has 1 to {MAX_LINES} lines.", "invalid")
    if not buyer_name.strip():
        raise BadRequest(
            "The buyer's name is required.",
            "invalid",
            {"fields": {"buyer_name": ["This field may not be blank."]}},
        )
    for index, line in enumerate(lines):
        _check_line(index, line)
    invoice_total = sum((quantize_money(ln.quantity * ln.unit_price) for ln in lines), ZERO)
    if invoice_total > MAX_INVOICE_TOTAL:
        raise BadRequest(
            f"The invoice total is above RMB {MAX_INVOICE_TOTAL}.",
            "invalid",
            {"fields": {"lines": [f"The invoice total is above RMB {MAX_INVOICE_TOTAL}."]}},
        )
    try:
        policy_on(day)
    except rules.NoPolicyInForce:
        raise BadRequest(
            f"No refund policy covers invoices dated {day.isoformat()}.",
            "invalid",
            {"fields": {"issued_on": ["No refund policy covers this date."]}},
        ) from None
    sequence = sequence_next(key=invoice_sequence_key(store=store, day=day))
    computed = [(line, *invoice_line_amounts(line)) for line in lines]
    invoice = VatInvoice(
        number=invoice_number(issued_on=day, region_code=store.region_code, sequence=sequence),
        store=store,
        buyer_name=buyer_name.strip(),
        issued_on=day,
        total_excl_vat=sum((c[1] for c in computed), ZERO),
        total_vat=sum((c[2] for c in computed), ZERO),
        total=sum((c[3] for c in computed), ZERO),
        created_by=clerk,
    )
    # The number comes from the sequence: its uniqueness and format are the database's to
    # guard (constraints), not a statement each before the INSERT.
    invoice.full_clean(
        exclude=["form", "original", "created_by", "store"],
        validate_unique=False,
        validate_constraints=False,
    )
    insert_row(invoice)
    invoice_lines = [
        VatInvoiceLine(
            invoice=invoice,
            position=index,
            item=line.item.strip(),
            spec=line.spec.strip(),
            unit=line.unit.strip(),
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=amount,
            vat_rate=line.vat_rate,
            vat_amount=vat,
            total=total,
            category=line.category,
        )
        for index, (line, amount, vat, total) in enumerate(computed, start=1)
    ]
    insert_rows(invoice_lines)
    prefetched_set(invoice, "lines", invoice_lines)
    ledger_append(
        record=invoice,
        created=True,
        action="invoice_issued",
        actor=clerk,
        to_status=invoice.status,
        payload={
            "number": invoice.number,
            "store": store.code,
            "total": invoice.total,
            "issued_on": day,
        },
    )
    return invoice


@dataclass(frozen=True)
class TravelerInput:
    """The traveler as presented at the counter."""

    name: str
    document_type: str
    document_number: str
    nationality: str
    last_entry_date: date | None
    document_expires_on: date | None = None
    # For the traveler's notices (SPEC §5): optional, never on the form itself.
    email: str = ""
    language: str = ""


def _raise_first(violations: list[rules.Violation]) -> None:
    if violations:
        first = violations[0]
        raise FormRuleViolation(
            first.message,
            first.code,
            {
                **first.extra,
                "violations": [{"code": v.code, "message": v.message} for v in violations],
            },
        )


def _as_date(value: Any) -> date | None:
    """A date column as read by raw SQL (SQLite gives ISO text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _traveler_upsert(data: TravelerInput, doc_hash: str) -> tuple[int, str, date | None]:
    """The traveler row for this document, created or refreshed with this trip's data.

    One upsert that leaves the row locked (PostgreSQL locks the conflicting row for the
    update; SQLite's write lock covers it) and returns its id, its stored encrypted
    document number and the expiry now recorded: an unknown expiry (API without it)
    keeps the one recorded earlier; ``updated_at`` moves only when something changed.
    """
    assert data.last_entry_date is not None
    connection = connections[router.db_for_write(Traveler)]
    ops = connection.ops
    meta = Traveler._meta
    quote = ops.quote_name
    table = quote(meta.db_table)
    column = {
        f: quote(str(meta.get_field(f).column))  # type: ignore[union-attr]
        for f in (
            "id",
            "name",
            "document_type",
            "document_number_encrypted",
            "document_hash",
            "document_masked",
            "nationality",
            "last_entry_date",
            "document_expires_on",
            "created_at",
            "updated_at",
        )
    }
    now = ops.adapt_datetimefield_value(timezone.now())
    values = [
        data.name,
        data.document_type,
        encrypt_document(data.document_number),
        doc_hash,
        mask_document(data.document_number),
        data.nationality,
        ops.adapt_datefield_value(data.last_entry_date),
        ops.adapt_datefield_value(data.document_expires_on),
        now,
        now,
    ]
    inserted = list(column)[1:]
    old = {f: f"{table}.{c}" for f, c in column.items()}
    new = {f: f"excluded.{c}" for f, c in column.items()}
    changed = (
        f"{old['name']} <> {new['name']} OR {old['nationality']} <> {new['nationality']}"
        f" OR {old['last_entry_date']} <> {new['last_entry_date']}"
        f" OR ({new['document_expires_on']} IS NOT NULL AND ({old['document_expires_on']} IS NULL"
        f" OR {old['document_expires_on']} <> {new['document_expires_on']}))"
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(column[f] for f in inserted)}) "  # noqa: S608 (names from the model, values bound)
        f"VALUES ({', '.join(['%s'] * len(inserted))}) "
        f"ON CONFLICT ({column['document_type']}, {column['document_hash']}) DO UPDATE SET "
        f"{column['name']} = {new['name']}, "
        f"{column['nationality']} = {new['nationality']}, "
        f"{column['last_entry_date']} = {new['last_entry_date']}, "
        f"{column['document_expires_on']} = "
        f"COALESCE({new['document_expires_on']}, {old['document_expires_on']}), "
        f"{column['updated_at']} = CASE WHEN {changed} THEN {new['updated_at']}"
        f" ELSE {old['updated_at']} END "
        f"RETURNING {column['id']}, {column['document_number_encrypted']}, "
        f"{column['document_expires_on']}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        pk, encrypted, expires_on = cursor.fetchone()
    return int(pk), str(encrypted), _as_date(expires_on)


IssueGuard = Callable[[Store, date], None]
_issue_guards: list[IssueGuard] = []


def register_issue_guard(guard: IssueGuard) -> IssueGuard:
    """Let a later app refuse a form (raise an ApplicationError) without stores importing it.

    A guard gets the store and the form's date (the issue day) and raises to refuse.
    It runs its own reads: prefer ``register_issue_check``, whose facts ride along with
    the issue's locked invoice read.
    """
    if guard not in _issue_guards:
        _issue_guards.append(guard)
    return guard


@dataclass(frozen=True)
class IssueCheck:
    """A later app's refusal of a form whose fact is read with the invoices (no statement).

    ``read(store, day)``: a scalar SQL subquery and its parameters, selected along with the
    issue's locked invoice read; ``check(store, day, value)``: the value it read; raise an
    ApplicationError to refuse. E.g. the tax authority's registry refuses a store not filed
    on the issue day.
    """

    read: Callable[[Store, date], tuple[str, list[Any]]]
    check: Callable[[Store, date, Any], None]


_issue_checks: list[IssueCheck] = []


def register_issue_check(check: IssueCheck) -> IssueCheck:
    """Let a later app refuse a form from a fact read along with the invoices (IssueCheck)."""
    if check not in _issue_checks:
        _issue_checks.append(check)
    return check


@functools.cache
def _invoices_lock_sql(alias: str, count: int, reads: tuple[str, ...]) -> str:
    """``_invoices_lock``'s statement for ``count`` numbers and these reads, built once per
    process (names from the models, values bound)."""
    connection = connections[alias]
    invoice_reader = row_reader(VatInvoice, "i", connection)
    line_reader = row_reader(VatInvoiceLine, "l", connection)

    def column(name: str) -> str:
        return "i." + quoted(connection, VatInvoice, name)

    def entry(name: str) -> str:
        return "e." + quoted(connection, LedgerEntry, name)

    head = (
        f"(SELECT {{}} FROM {table(connection, LedgerEntry)} e"  # noqa: S608
        f" WHERE {entry('record_type')} = %s"
        f" AND {entry('record_id')} = CAST({column('id')} AS VARCHAR(64))"
        f" ORDER BY {entry('seq')} DESC LIMIT 1)"
    )
    selected = [
        invoice_reader.columns,
        line_reader.columns,
        head.format(entry("seq")),
        head.format(entry("entry_hash")),
        *reads,
    ]
    lock = " FOR UPDATE OF i" if connection.features.has_select_for_update_of else ""
    line_invoice = "l." + quoted(connection, VatInvoiceLine, "invoice")
    return (
        f"SELECT {', '.join(selected)} FROM {table(connection, VatInvoiceLine)} l"  # noqa: S608
        f" INNER JOIN {table(connection, VatInvoice)} i ON {line_invoice} = {column('id')}"
        f" WHERE {column('number')} IN ({', '.join(['%s'] * count)})"
        f" AND {column('store')} = %s AND {column('kind')} = %s"
        f" ORDER BY {column('id')}, l.{quoted(connection, VatInvoiceLine, 'position')}{lock}"
    )


def _invoices_lock(
    *, store: Store, numbers: Sequence[str], reads: Sequence[tuple[str, list[Any]]]
) -> tuple[list[VatInvoice], list[VatInvoiceLine], list[Any]]:
    """The store's blue invoices among ``numbers`` locked in pk order, and their lines.

    One statement: the lines with their invoice, ``FOR UPDATE OF`` the invoice rows in
    invoice pk order, each invoice's ledger chain head and the issue checks' ``reads``
    riding along. Returns the invoices (pk order), the lines (invoice number, position)
    and the values read (in the order of ``reads``).
    """
    connection = connections[router.db_for_write(VatInvoice)]
    invoice_reader = row_reader(VatInvoice, "i", connection)
    line_reader = row_reader(VatInvoiceLine, "l", connection)
    read_params = [param for _, params in reads for param in params]
    record_type = VatInvoice._meta.label_lower
    params = [record_type, record_type, *read_params, *numbers, store.pk, InvoiceKind.BLUE]
    sql = _invoices_lock_sql(connection.alias, len(numbers), tuple(sql for sql, _ in reads))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    split = invoice_reader.width
    after_lines = split + line_reader.width
    invoices: dict[int, VatInvoice] = {}
    lines: list[VatInvoiceLine] = []
    for row in rows:
        invoice = invoices.get(row[0])
        if invoice is None:
            invoice = invoices[row[0]] = invoice_reader.instance(row[:split], connection)
            invoice.ledger_chain_seq, invoice.ledger_chain_hash = row[after_lines : after_lines + 2]  # type: ignore[attr-defined]
        line = line_reader.instance(row[split:after_lines], connection)
        line.invoice = invoice
        lines.append(line)
    if len(invoices) < len(numbers):
        # Not found, or (never issued so) without lines: read those on their own.
        found = {invoice.number for invoice in invoices.values()}
        for invoice in (
            ledger_head_annotate(VatInvoice.objects.select_for_update())
            .filter(
                number__in=[n for n in numbers if n not in found],
                store=store,
                kind=InvoiceKind.BLUE,
            )
            .order_by("pk")
        ):
            invoices[invoice.pk] = invoice
    if rows:
        values = list(rows[0][after_lines + 2 :])
    elif reads:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(sql for sql, _ in reads)}", read_params)
            values = list(cursor.fetchone())
    else:
        values = []
    lines.sort(key=lambda line: (line.invoice.number, line.position))
    return [invoices[pk] for pk in sorted(invoices)], lines, values


@transaction.atomic
def refund_form_issue(
    *,
    store: Store,
    clerk: User,
    traveler: TravelerInput,
    invoice_numbers: Sequence[str],
    buy_and_refund: bool | None = None,
) -> RefundForm:
    """Issue a Refund Application Form for a traveler's invoices (Measures art. 10).

    Locks the invoices (pk order) so two clerks cannot put one invoice on two
    forms; counts the traveler's same-store same-day invoices already on live
    forms toward the minimum; signs the content into the QR payload.
    """
    numbers = sorted(set(invoice_numbers))
    if not numbers or len(numbers) > MAX_FORM_INVOICES:
        raise BadRequest(
            f"A form has 1 to {MAX_FORM_INVOICES} invoices.",
            "invalid",
            {"fields": {"invoice_numbers": [f"Give 1 to {MAX_FORM_INVOICES} invoices."]}},
        )
    today = business_today()
    for guard in _issue_guards:
        guard(store, today)
    reads = [check.read(store, today) for check in _issue_checks]
    invoices, invoice_lines, values = _invoices_lock(store=store, numbers=numbers, reads=reads)
    for check, value in zip(_issue_checks, values, strict=True):
        check.check(store, today, value)
    missing = sorted(set(numbers) - {inv.number for inv in invoices})
    if missing:
        raise InvoiceNotFound(
            f"Invoice {missing[0]} was not found at this store.",
            extra={"invoices": missing},
        )
    lines_by_invoice: dict[int, list[VatInvoiceLine]] = {}
    for line in invoice_lines:
        lines_by_invoice.setdefault(line.invoice_id, []).append(line)

    doc_hash = document_hash(traveler.document_number)
    traveler_facts = rules.TravelerFacts(
        document_type=traveler.document_type,
        nationality=traveler.nationality,
        last_entry_date=traveler.last_entry_date,
    )
    _raise_first(rules.traveler_violations(traveler_facts))

    purchase_date = max(inv.issued_on for inv in invoices)
    policy = policy_on(purchase_date)
    facts = [
        rules.InvoiceFacts(
            number=inv.number,
            issued_on=inv.issued_on,
            store_id=inv.store_id,
            reversed=inv.status == VatInvoice.Status.REVERSED,
            already_used=inv.form_id is not None,
            lines=[
                rules.LineFacts(vat_rate=line.vat_rate, total=line.total, item=line.item)
                for line in lines_by_invoice.get(inv.pk, [])
            ],
        )
        for inv in invoices
    ]
    # The traveler row lock orders this issue against a concurrent void of the
    # same traveler's earlier form, which the same-day minimum may count.
    person_id, document_encrypted, expires_on = _traveler_upsert(traveler, doc_hash)
    # expires_on: the expiry given now, else the one recorded for this document earlier.
    traveler_facts = replace(traveler_facts, document_expires_on=expires_on)
    earlier = same_day_live_total(store_id=store.pk, document_hash=doc_hash, day=purchase_date)
    _raise_first(
        rules.form_violations(
            traveler=traveler_facts, invoices=facts, policy=policy, earlier_same_day_total=earlier
        )
    )

    is_buy_and_refund = bool(buy_and_refund) and store.buy_and_refund
    if buy_and_refund and not store.buy_and_refund:
        raise FormRuleViolation(
            "This store does not offer Buy & Refund.", "not_buy_and_refund_store"
        )
    fee_rate = fee_rate_on(agency_id=store.serving_agency_id, day=today)
    computation = rules.compute_refund(
        (rules.LineFacts(vat_rate=line.vat_rate, total=line.total) for line in invoice_lines),
        policy=policy,
        fee_rate=fee_rate,
    )
    sequence = sequence_next(key=f"form:{store.region_code}{today:%y}")
    number = form_number(region_code=store.region_code, issued_on=today, sequence=sequence)

    line_rows = [
        {
            "position": position,
            "invoice_line": line,
            "item": line.item,
            "spec": line.spec,
            "unit": line.unit,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "vat_rate": line.vat_rate,
            "refund_rate": policy.refund_rate_for(line.vat_rate),
            "total": line.total,
            "category": line.category,
        }
        for position, line in enumerate(invoice_lines, start=1)
    ]
    nationality = traveler.nationality.upper()
    assert traveler.last_entry_date is not None
    content = form_content(
        number=number,
        store_code=store.code,
        traveler_name=traveler.name,
        document_type=traveler.document_type,
        document_hash=doc_hash,
        nationality=nationality,
        last_entry_date=traveler.last_entry_date,
        purchase_date=purchase_date,
        invoice_numbers=numbers,
        lines=line_rows,
        total=computation.total,
    )
    digest = content_digest(content)
    form: RefundForm = new_instance(
        RefundForm,
        number=number,
        store=store,
        traveler_id=person_id,
        traveler_name=traveler.name,
        document_type=traveler.document_type,
        document_number_encrypted=document_encrypted,
        document_hash=doc_hash,
        document_masked=mask_document(traveler.document_number),
        nationality=nationality,
        last_entry_date=traveler.last_entry_date,
        document_expires_on=expires_on,
        purchase_date=purchase_date,
        buy_and_refund=is_buy_and_refund,
        policy_id=policy_id_of(policy),
        fee_rate=fee_rate,
        total=computation.total,
        refundable_vat=computation.refundable,
        fee=computation.fee,
        net_refund=computation.net,
        content_digest=digest,
        qr_payload=make_form_qr(number, digest),
        issued_by=clerk,
        issued_at=timezone.now(),
    )
    insert_row(form)
    form_lines = [new_instance(RefundFormLine, form=form, **row) for row in line_rows]
    insert_rows(form_lines)
    prefetched_set(form, "lines", form_lines)
    ledger_append_many(
        [
            LedgerItem(
                record=form,
                created=True,
                action="form_issued",
                actor=clerk,
                to_status=form.status,
                payload={
                    "number": number,
                    "store": store.code,
                    "invoices": numbers,
                    "total": form.total,
                    "refundable_vat": form.refundable_vat,
                    "fee": form.fee,
                    "net_refund": form.net_refund,
                    "content_digest": digest,
                    "buy_and_refund": is_buy_and_refund,
                },
            ),
            *(
                LedgerItem(
                    record=inv,
                    action="invoice_attached_to_form",
                    actor=clerk,
                    from_status=inv.status,
                    to_status=inv.status,
                    payload={"form": number},
                )
                for inv in invoices
            ),
        ],
        save_heads=False,
    )
    # The invoices' new ledger heads go with the form link: one UPDATE.
    ledger_heads_update(invoices, form=form)
    events.publish("form_issued", form=form, email=traveler.email, language=traveler.language)
    return form


# --- Voids (returns before export) ----------------------------------------------

RED_INVOICE_REASON = "销货退回 Sales return"
VOID_REASON_MAX = 300

VoidGuard = Callable[[RefundForm], None]
_void_guards: list[VoidGuard] = []


def register_void_guard(guard: VoidGuard) -> VoidGuard:
    """Let a later app refuse a void (raise an ApplicationError) without stores importing it.

    The Buy & Refund prepayment lives downstream of stores (stores <- customs <-
    agencies), so it registers here from its AppConfig.ready(): "a prepaid form
    is voided only after the prepayment is returned" (SPEC §2 Returns). Guards
    run inside the void's transaction with the form row locked.
    """
    if guard not in _void_guards:
        _void_guards.append(guard)
    return guard


def _check_void_guards(form: RefundForm) -> None:
    # Hook: no prepayment model exists yet; until one registers a guard, a
    # Buy & Refund form voids like any other issued form.
    for guard in list(_void_guards):
        guard(form)


def refund_form_void_blocker(form: RefundForm) -> FormNotVoidable | None:
    """Why this form cannot be voided now, or None; reads only (the void itself re-checks)."""
    if not FORM_TRANSITIONS.can(form.status, FormStatus.VOIDED):
        return FormNotVoidable(
            f"Form {form.number} is {form.status}; only an issued form can be voided.",
            extra={"status": form.status},
        )
    try:
        if form.buy_and_refund:
            _check_void_guards(form)
        _check_same_day_dependents(form, lock=False)
    except FormNotVoidable as exc:
        return exc
    return None


def _check_same_day_dependents(form: RefundForm, *, lock: bool = True) -> None:
    """Refuse a void that would leave the traveler's other same-day forms below the minimum.

    The same-day minimum counts invoices already on earlier forms of the day
    (Measures art. 10); voiding one of them must not leave a later form that
    only qualified because of it. The traveler row lock orders this against a
    concurrent issue for the same traveler.
    """
    if lock:
        Traveler.objects.select_for_update().filter(pk=form.traveler_id).first()
    others = list(
        RefundForm.objects.filter(
            store_id=form.store_id,
            document_hash=form.document_hash,
            purchase_date=form.purchase_date,
        )
        .exclude(pk=form.pk)
        .exclude(status=FormStatus.VOIDED)
        .values_list("number", flat=True)
    )
    if not others:
        return
    remaining = (
        same_day_live_total(
            store_id=form.store_id, document_hash=form.document_hash, day=form.purchase_date
        )
        - form.total
    )
    minimum = policy_on(form.purchase_date).minimum_amount
    if remaining < minimum:
        raise FormNotVoidable(
            f"Form(s) {', '.join(others)} of the same day reach the RMB {minimum} minimum"
            f" only with this form: void them first.",
            extra={"status": form.status, "dependent_forms": others},
        )


@transaction.atomic
def refund_form_void(*, form: RefundForm, clerk: User, reason: str) -> list[VatInvoice]:
    """Void an issued form on a return and reverse each invoice with a red-ink invoice.

    Locks the form, then its invoices (pk order); only an ``issued`` form may be
    voided (customs-verified, rejected or refunded forms may not). The reversed
    invoices stay linked to the voided form and can never go on another form.
    """
    reason = (reason or "").strip()
    if not reason:
        raise BadRequest(
            "Give the reason for the void.",
            "invalid",
            {"fields": {"reason": ["This field may not be blank."]}},
        )
    if len(reason) > VOID_REASON_MAX:
        raise BadRequest(
            f"The reason is longer than {VOID_REASON_MAX} characters.",
            "invalid",
            {"fields": {"reason": [f"At most {VOID_REASON_MAX} characters."]}},
        )
    # of=("self",): locking the store row too would deadlock with invoice_issue,
    # whose deferred foreign-key check on that row waits at commit.
    locked = (
        RefundForm.objects.select_for_update(of=("self",)).select_related("store").get(pk=form.pk)
    )
    if not FORM_TRANSITIONS.can(locked.status, FormStatus.VOIDED):
        raise FormNotVoidable(
            f"Form {locked.number} is {locked.status}; only an issued form can be voided.",
            extra={"status": locked.status},
        )
    if locked.buy_and_refund:
        _check_void_guards(locked)
    _check_same_day_dependents(locked)

    originals = list(
        VatInvoice.objects.select_for_update()
        .filter(form=locked, kind=InvoiceKind.BLUE)
        .order_by("pk")
    )
    for original in originals:
        VatInvoice.TRANSITIONS.check(original.status, VatInvoice.Status.REVERSED)
    lines_by_invoice: dict[int, list[VatInvoiceLine]] = {}
    for line in VatInvoiceLine.objects.filter(invoice__in=originals).order_by("position"):
        lines_by_invoice.setdefault(line.invoice_id, []).append(line)

    store = locked.store
    today = business_today()
    first = sequence_next(key=invoice_sequence_key(store=store, day=today), count=len(originals))
    reds: list[VatInvoice] = []
    for offset, original in enumerate(originals):
        red = VatInvoice(
            number=invoice_number(
                issued_on=today, region_code=store.region_code, sequence=first + offset
            ),
            store=store,
            kind=InvoiceKind.RED,
            original=original,
            reason=RED_INVOICE_REASON,
            buyer_name=original.buyer_name,
            issued_on=today,
            total_excl_vat=-original.total_excl_vat,
            total_vat=-original.total_vat,
            total=-original.total,
            created_by=clerk,
        )
        red.save()
        VatInvoiceLine.objects.bulk_create(
            VatInvoiceLine(
                invoice=red,
                position=line.position,
                item=line.item,
                spec=line.spec,
                unit=line.unit,
                quantity=-line.quantity,
                unit_price=line.unit_price,
                amount=-line.amount,
                vat_rate=line.vat_rate,
                vat_amount=-line.vat_amount,
                total=-line.total,
            )
            for line in lines_by_invoice.get(original.pk, [])
        )
        reds.append(red)

    locked.voided_at = timezone.now()
    locked.void_reason = reason
    transition(
        locked,
        to=FormStatus.VOIDED,
        transitions=FORM_TRANSITIONS,
        check=False,
        fields=["voided_at", "void_reason"],
        actor=clerk,
        action="form_voided",
        payload={
            "number": locked.number,
            "reason": reason,
            "red_invoices": [red.number for red in reds],
        },
    )
    items: list[LedgerItem] = []
    for original, red in zip(originals, reds, strict=True):
        items.append(
            LedgerItem(
                record=original,
                action="invoice_reversed",
                actor=clerk,
                from_status=original.status,
                to_status=VatInvoice.Status.REVERSED,
                payload={"form": locked.number, "red_invoice": red.number},
            )
        )
        items.append(
            LedgerItem(
                record=red,
                created=True,
                action="invoice_issued",
                actor=clerk,
                to_status=red.status,
                payload={
                    "number": red.number,
                    "kind": red.kind,
                    "store": store.code,
                    "original": original.number,
                    "reason": red.reason,
                    "total": red.total,
                    "issued_on": today,
                },
            )
        )
    ledger_append_many(items, save_heads=False)
    for original in originals:
        original.status = VatInvoice.Status.REVERSED
    # The originals' status and new ledger heads: one UPDATE.
    ledger_heads_update(originals, status=VatInvoice.Status.REVERSED)
    form.status = locked.status
    form.voided_at = locked.voided_at
    form.void_reason = locked.void_reason
    return reds
