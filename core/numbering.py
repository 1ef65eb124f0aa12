"""Document numbers: VAT invoice numbers (20 digits) and form numbers (16 with a check digit)."""

from __future__ import annotations

from datetime import date

from stdnum import luhn

INVOICE_CHANNEL = "2"  # issued through the national e-invoice service platform
INVOICE_SEQUENCE_DIGITS = 15
FORM_SEQUENCE_DIGITS = 11


def invoice_number(*, issued_on: date, region_code: str, sequence: int) -> str:
    """2-digit year + 2-digit region + channel digit + 15-digit sequence (数电票)."""
    if not (len(region_code) == 2 and region_code.isdigit()):
        raise ValueError("region code must be two digits")
    return f"{issued_on:%y}{region_code}{INVOICE_CHANNEL}{sequence:0{INVOICE_SEQUENCE_DIGITS}d}"


def form_number(*, region_code: str, issued_on: date, sequence: int) -> str:
    """2-digit region + 2-digit year + 11-digit sequence + Luhn check digit = 16 digits."""
    body = f"{region_code}{issued_on:%y}{sequence:0{FORM_SEQUENCE_DIGITS}d}"
    return body + luhn.calc_check_digit(body)


def is_valid_form_number(number: str) -> bool:
    """16 digits whose last is the Luhn check digit of the rest."""
    return len(number) == 16 and number.isdigit() and luhn.is_valid(number)
