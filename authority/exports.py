"""CSV and XLSX of a table, with cells a spreadsheet would run as a formula neutralized."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from core.exports import SafeCsvWriter, neutralize_workbook

# OWASP "CSV injection": a leading =, +, -, @ (or tab / carriage return) starts a formula.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
MONEY_FORMAT = "#,##0.00"


def neutralize(value: Any) -> Any:
    """Text a spreadsheet would evaluate gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def table_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV with a BOM (so Excel reads Chinese), CRLF lines, every text cell neutralized."""
    out = io.StringIO()
    writer = SafeCsvWriter(out, lineterminator="\r\n")
    writer.writerow([neutralize(h) for h in header])
    for row in rows:
        writer.writerow([neutralize(_text(cell)) for cell in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def table_xlsx(
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    preamble: Sequence[Sequence[Any]] = (),
) -> bytes:
    """One sheet: optional preamble lines, a bold header, rows; money (Decimal) as numbers."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    for line in preamble:
        sheet.append([neutralize(_text(cell)) for cell in line])
    sheet.append([neutralize(h) for h in header])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        values: list[Any] = []
        for cell in row:
            if isinstance(cell, Decimal | int) and not isinstance(cell, bool):
                values.append(cell)
            else:
                values.append(neutralize(_text(cell)))
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, Decimal):
                cell.number_format = MONEY_FORMAT
    for index in range(1, len(header) + 1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = 18
    neutralize_workbook(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
