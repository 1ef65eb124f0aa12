"""Spreadsheet-safe cells for every export (CSV and XLSX), SPEC §4.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
after a leading tab or carriage return) as a formula: ``=HYPERLINK(...)`` in a scanned
code or a name would run on the reader's machine. Such text is written with a leading
apostrophe, which spreadsheets show as text. Numbers (money, counts) stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def safe_cell(value: Any) -> Any:
    """``value``, or the text prefixed with ``'`` when a spreadsheet would run it."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through ``safe_cell``."""
    return [safe_cell(value) for value in values]


class SafeCsvWriter:
    """``csv.writer`` whose rows go through ``safe_row``."""

    def __init__(self, out: Any, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, values: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(values))


def neutralize_workbook(book: Any) -> None:
    """Every text cell of an openpyxl workbook through ``safe_cell`` (before saving).

    openpyxl stores text starting with ``=`` as a formula; written back with the
    apostrophe it is plain text.
    """
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    safe = safe_cell(cell.value)
                    if safe is not cell.value:
                        cell.value = safe
                        cell.data_type = "s"
