"""A logging filter that masks document and card numbers in every log line.

Installed on every handler (``LOGGING`` in the settings, ``gunicorn.conf.py`` for the
access log), so nothing logged by Django, gunicorn, Celery or our code writes a passport
or card number in clear, wherever it came from (a URL, an error message, a traceback).
"""

from __future__ import annotations

import logging
import re

from stdnum import luhn

# 13-19 digits, optionally grouped by spaces or hyphens: a card number if Luhn-valid.
_CARD = re.compile(r"(?<![\w])(?:\d[ -]?){12,18}\d(?![\w])")
# A document number: 6-12 letters and digits with at least 5 digits and a letter
# (P12345678, 18AB12345, H1234567890), or 8-12 digits alone (Taiwan permits).
_DOCUMENT = re.compile(
    r"(?<![\w*])(?=(?:[A-Za-z]*\d){5})(?=\w*[A-Za-z])[A-Za-z0-9]{6,12}(?![\w])"
    r"|(?<![\w.:/-])\d{8,12}(?![\w.:])"
)


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    if not 13 <= len(digits) <= 19 or not luhn.is_valid(digits):
        return match.group()
    return "*" * (len(digits) - 4) + digits[-4:]


def _mask_document(match: re.Match[str]) -> str:
    value = match.group()
    return value[0] + "*" * (len(value) - 4) + value[-3:]


def mask_personal_data(text: str) -> str:
    """The text with card numbers (Luhn-valid) and document-shaped tokens masked."""
    return _DOCUMENT.sub(_mask_document, _CARD.sub(_mask_card, text))


class MaskPersonalData(logging.Filter):
    """Rewrite the record's message (and traceback) with personal data masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logged as is, never dropped
            return True
        record.msg, record.args = mask_personal_data(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_data(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        return True
