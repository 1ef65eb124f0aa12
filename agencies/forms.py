"""Counter and settlement forms: they parse what the agent typed or scanned, nothing more.

The rules (QR signature, Luhn, account formats, cash cap) live in the services;
their errors come back as ApplicationError and are put on these forms.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms

from agencies.models import PayoutMethod
from core.forms import BilingualForm
from stores.models import DocumentType

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ScanForm(BilingualForm):
    """The form's QR as a keyboard-wedge scanner types it (147 characters, then Enter)."""

    qr = forms.CharField(
        label="Form QR code",
        max_length=400,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "mono scan",
                "placeholder": "Scan the QR code on the refund form",
            }
        ),
        error_messages={"required": "Scan the QR code printed on the refund form."},
    )
    document_number = forms.CharField(
        label="Document number (QR damaged: with the typed form number)",
        max_length=40,
        required=False,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "mono",
                "placeholder": "Passport / permit number in hand",
            }
        ),
    )

    def typed_number(self) -> str | None:
        """The 16-digit form number when the agent typed one instead of scanning the QR."""
        text = "".join(self.cleaned_data.get("qr", "").split())
        return text if text.isdigit() and len(text) == 16 else None


class DocumentForm(BilingualForm):
    """The document the traveler presents at the counter."""

    document_type = forms.ChoiceField(label="Document type presented", choices=DocumentType.choices)
    document_number = forms.CharField(
        label="Document number presented",
        max_length=40,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "mono",
                "placeholder": "Type or scan the passport / permit number",
            }
        ),
        error_messages={"required": "Type or scan the number of the document presented."},
    )


# Which input carries the account for which method (one labelled input each).
ACCOUNT_FIELDS = {
    PayoutMethod.BANK_CARD.value: "card_number",
    PayoutMethod.ALIPAY.value: "alipay_account",
    PayoutMethod.WECHAT.value: "wechat_account",
}


class PayoutForm(BilingualForm):
    """The payout method and, for a transfer, the payee account."""

    payout_method = forms.ChoiceField(
        label="Payout method",
        choices=PayoutMethod.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how the refund is paid."},
    )
    card_number = forms.CharField(
        label="Bank card number",
        required=False,
        max_length=30,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "class": "mono"}
        ),
    )
    alipay_account = forms.CharField(
        label="Alipay account (mobile, email or 2088 user id)",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    wechat_account = forms.CharField(
        label="WeChat Pay account (WeChat ID or mobile)",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        field = ACCOUNT_FIELDS.get(data.get("payout_method", ""))
        if field and not data.get(field):
            self.add_error(field, "Enter the account the refund is paid to.")
        return data

    @property
    def account_field(self) -> str | None:
        return ACCOUNT_FIELDS.get(self.cleaned_data.get("payout_method", ""))

    def account(self) -> str | None:
        """The account typed for the chosen method (None for cash)."""
        field = self.account_field
        return self.cleaned_data.get(field) if field else None


FIRST_MONTH = date(2015, 1, 1)  # the platform's rules start with 2015 No.3


def month_or_error(value: str | None, today: date) -> tuple[date, str]:
    """``?month=``: the first of that month, or an error message (bilingual) for the page.

    Missing means this month; malformed, before 2015-01 or in the future is an error,
    never silently this month.
    """
    this_month = today.replace(day=1)
    if value is None:
        return this_month, ""
    match = MONTH_RE.match(value.strip())
    if match is None:
        return this_month, f"{value[:20]!r} is not a month: use YYYY-MM · 月份格式应为 年-月"
    month = date(int(match.group(1)), int(match.group(2)), 1)
    if month < FIRST_MONTH or month > this_month:
        return this_month, (
            f"{value} is out of range: from {FIRST_MONTH:%Y-%m} to {this_month:%Y-%m}"
            f" · 月份超出范围"
        )
    return month, ""


def parse_month(value: str | None, default: date) -> date:
    """``YYYY-MM`` -> the first of that month; anything else -> ``default``'s month."""
    match = MONTH_RE.match(value or "")
    # 2015 (the first policy) to 2100: 9999-12 would overflow the month's end.
    if match is None or not 2015 <= int(match.group(1)) <= 2100:
        return default.replace(day=1)
    return date(int(match.group(1)), int(match.group(2)), 1)
