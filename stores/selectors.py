"""Reads of store records: the form's content digest, scoped queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connections, router
from django.db.models import Prefetch, QuerySet

from core.ledger import ledger_head_annotate
from core.money import ZERO
from core.signing import canonical_json, sha256_hex
from stores.exceptions import FormNotFound
from stores.models import FormStatus, RefundForm, RefundFormLine, VatInvoice, VatInvoiceLine
from stores.sql import quoted, table, value_converted


def form_content(
    *,
    number: str,
    store_code: str,
    traveler_name: str,
    document_type: str,
    document_hash: str,
    nationality: str,
    last_entry_date: date,
    purchase_date: date,
    invoice_numbers: Sequence[str],
    lines: Sequence[dict[str, Any]],
    total: Decimal,
) -> dict[str, Any]:
    """The signed content of a form: what the QR digest commits to."""
    return {
        "v": 1,
        "number": number,
        "store": store_code,
        "traveler": {
            "name": traveler_name,
            "document_type": document_type,
            "document_hash": document_hash,
            "nationality": nationality,
            "last_entry_date": last_entry_date,
        },
        "purchase_date": purchase_date,
        "invoices": sorted(invoice_numbers),
        "lines": [
            {
                "position": line["position"],
                "item": line["item"],
                "quantity": line["quantity"],
                "unit_price": line["unit_price"],
                "vat_rate": line["vat_rate"].normalize(),
                "total": line["total"],
            }
            for line in lines
        ],
        "total": total,
    }


def content_digest(content: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of a form's content."""
    return sha256_hex(canonical_json(content))


def form_current_digest(form: RefundForm) -> str:
    """Recompute a stored form's digest from its rows (check F compares it to the QR)."""
    lines = list(form.lines.order_by("position"))
    content = form_content(
        number=form.number,
        store_code=form.store.code,
        traveler_name=form.traveler_name,
        document_type=form.document_type,
        document_hash=form.document_hash,
        nationality=form.nationality,
        last_entry_date=form.last_entry_date,
        purchase_date=form.purchase_date,
        invoice_numbers=list(form.invoices.values_list("number", flat=True)),
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
    return content_digest(content)


def same_day_live_total(*, store_id: int, document_hash: str, day: date) -> Decimal:
    """VAT-inclusive total of the traveler's invoices on live forms at a store on a day."""
    connection = connections[router.db_for_read(VatInvoice)]

    def invoice(name: str) -> str:
        return "i." + quoted(connection, VatInvoice, name)

    def form(name: str) -> str:
        return "f." + quoted(connection, RefundForm, name)

    # On the form issue's path: SQL, not a compiled ORM aggregate (stores.sql).
    sql = (
        f"SELECT SUM({invoice('total')}) FROM {table(connection, VatInvoice)} i"  # noqa: S608 (names from the models, values bound)
        f" INNER JOIN {table(connection, RefundForm)} f ON {invoice('form')} = {form('id')}"
        f" WHERE {form('store')} = %s AND {form('document_hash')} = %s"
        f" AND {invoice('issued_on')} = %s AND {form('status')} <> %s"
    )
    day_value = connection.ops.adapt_datefield_value(day)
    with connection.cursor() as cursor:
        cursor.execute(sql, [store_id, document_hash, day_value, FormStatus.VOIDED])
        (value,) = cursor.fetchone()
    if value is None:
        return ZERO
    # SQLite sums decimals as floats: the ORM's converter for the column rounds them back.
    return Decimal(value_converted(value, VatInvoice, "total", connection))


def forms_for_store(*, store_id: int) -> QuerySet[RefundForm]:
    """A store's forms, newest first."""
    return RefundForm.objects.filter(store_id=store_id).select_related("store")


def form_with_lines(*, number: str) -> RefundForm | None:
    """A form with its store and lines loaded, or None."""
    return (
        RefundForm.objects.select_related("store", "store__serving_agency", "traveler")
        .prefetch_related("lines", "invoices")
        .filter(number=number)
        .first()
    )


def form_lines(form: RefundForm) -> list[RefundFormLine]:
    """The form's lines in order."""
    return list(form.lines.order_by("position"))


def form_in_scope(*, number: str, store_id: int | None) -> RefundForm | None:
    """A form with everything its detail shows, or None when missing or out of scope.

    ``store_id`` limits the lookup to one store (clerks); None reads any form
    (customs officers and agents work nationwide).
    """
    queryset = (
        RefundForm.objects.select_related("store", "issued_by", "policy")
        .prefetch_related(
            Prefetch("lines", queryset=RefundFormLine.objects.order_by("position")),
            Prefetch(
                "invoices",
                queryset=VatInvoice.objects.select_related("red_invoice").order_by("number"),
            ),
        )
        .filter(number=number)
    )
    if store_id is not None:
        queryset = queryset.filter(store_id=store_id)
    return queryset.first()


def invoice_in_scope(*, number: str, store_id: int) -> VatInvoice | None:
    """One of a store's invoices with its lines, or None."""
    return (
        VatInvoice.objects.select_related("store", "original", "red_invoice", "form")
        .prefetch_related(Prefetch("lines", queryset=VatInvoiceLine.objects.order_by("position")))
        .filter(number=number, store_id=store_id)
        .first()
    )


def invoices_with_lines(*, pks: Sequence[int]) -> list[VatInvoice]:
    """Invoices with their lines loaded, in the order of ``pks``."""
    rows = {
        inv.pk: inv
        for inv in VatInvoice.objects.select_related("original")
        .prefetch_related(Prefetch("lines", queryset=VatInvoiceLine.objects.order_by("position")))
        .filter(pk__in=pks)
    }
    return [rows[pk] for pk in pks if pk in rows]


def form_lock(*, number: str) -> RefundForm:
    """The form row locked for update (caller's transaction), with its store; 404 if unknown.

    Customs and agencies lock the form before advancing it, so every state
    change of one form is ordered by this one row lock.
    """
    form = (
        ledger_head_annotate(RefundForm.objects.select_for_update(of=("self",)))
        .select_related("store")
        .filter(number=number)
        .first()
    )
    if form is None:
        raise FormNotFound(f"No refund form {number}.")
    return form


# The traveler's phone page belongs to a later app (travelers): it registers how a form's
# page path is found, so the form reply and the PDF can carry it without importing it.
_traveler_page_path: list[Callable[[RefundForm], str | None]] = []


def register_traveler_page_path(build: Callable[[RefundForm], str | None]) -> None:
    """Let the travelers app say where a form's phone page is (``/t/<token>/``)."""
    _traveler_page_path[:] = [build]


def traveler_page_path(form: RefundForm) -> str | None:
    """The path of the form's phone page, or None when no app provides one."""
    return _traveler_page_path[0](form) if _traveler_page_path else None


def invoices_for_store(
    *,
    store_id: int,
    text: str = "",
    day: date | None = None,
    kind: str = "",
    unused_only: bool = False,
) -> QuerySet[VatInvoice]:
    """A store's invoices, newest first, searched by number or buyer, date and kind."""
    queryset = (
        VatInvoice.objects.filter(store_id=store_id)
        .select_related("form", "original", "red_invoice")
        .order_by("-issued_on", "-number")
    )
    text = text.strip()
    if text:
        digits = text.replace(" ", "")
        if digits.isdigit():
            queryset = queryset.filter(number__contains=digits)
        else:
            queryset = queryset.filter(buyer_name__icontains=text)
    if day is not None:
        queryset = queryset.filter(issued_on=day)
    if kind:
        queryset = queryset.filter(kind=kind)
    if unused_only:
        queryset = invoices_unused_filter(queryset)
    return queryset


def invoices_unused_filter(queryset: QuerySet[VatInvoice]) -> QuerySet[VatInvoice]:
    """Blue invoices on no form yet and not reversed: those a new form may take."""
    return queryset.filter(kind="blue", form__isnull=True, status=VatInvoice.Status.ISSUED)


def invoices_unused(*, store_id: int, limit: int = 50) -> list[VatInvoice]:
    """The store's most recent invoices that a new form may take (the issue page lists them)."""
    queryset = invoices_unused_filter(VatInvoice.objects.filter(store_id=store_id))
    return list(queryset.order_by("-issued_on", "-number")[:limit])
