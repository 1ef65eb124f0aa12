"""Officer page forms: parse input only; the services decide."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from core.forms import BilingualForm
from stores.models import RefundFormLine


def plain_number(value: Decimal) -> str:
    """2.00 -> "2", 2.50 -> "2.5", 10.00 -> "10" (never "1E+1")."""
    return format(value.normalize(), "f")


class ScanForm(BilingualForm):
    """One box: the scanner types the QR payload and Enter, or the officer types 16 digits."""

    code = forms.CharField(
        max_length=300,
        label="Scan the form QR or type the form number",
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "scan-input mono",
                "placeholder": "RF1… or 16 digits",
            }
        ),
    )
    document_number = forms.CharField(
        required=False,
        max_length=40,
        label="Document number (with a typed form number: damaged QR)",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "mono",
                "placeholder": "Passport / permit number 证件号码",
            }
        ),
    )


class VerifyForm(BilingualForm):
    """Departure, traveler match and one quantity per line (default: all presented)."""

    qr = forms.CharField(required=False, widget=forms.HiddenInput)
    departure_date = forms.DateField(
        label="Departure date 离境日期", widget=forms.DateInput(attrs={"type": "date"})
    )
    flight = forms.CharField(
        required=False,
        max_length=16,
        label="Flight / voyage 航班",
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono"}),
    )
    traveler_matches = forms.BooleanField(
        required=False, initial=True, label="Traveler and document match the form 人证相符"
    )

    def __init__(self, *args: Any, lines: Sequence[RefundFormLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        self.fields["departure_date"].initial = timezone.localdate()
        for index, line in enumerate(self.lines):
            attrs = {
                "class": "qty",
                "inputmode": "decimal",
                "data-unit-price": str(line.unit_price),
                "data-purchased": plain_number(line.quantity),
                "data-total": str(line.total),
                "aria-label": f"Quantity presented, line {line.position}: {line.item}",
            }
            if index == 0:
                attrs["autofocus"] = "autofocus"
            self.fields[self.qty_name(line)] = forms.DecimalField(
                min_value=Decimal("0"),
                max_digits=12,
                decimal_places=2,
                initial=plain_number(line.quantity),
                label=line.item,
                widget=forms.NumberInput(attrs={**attrs, "step": "any", "min": "0"}),
            )

    @staticmethod
    def qty_name(line: RefundFormLine) -> str:
        return f"qty_{line.pk}"

    def rows(self) -> list[tuple[RefundFormLine, forms.BoundField]]:
        """Each line with its bound quantity field, for the template."""
        return [(line, self[self.qty_name(line)]) for line in self.lines]

    def quantities(self) -> dict[int, Decimal]:
        return {line.pk: self.cleaned_data[self.qty_name(line)] for line in self.lines}


class BatchOpenForm(BilingualForm):
    drop_date = forms.DateField(
        label="Mailbox emptied on 信箱开箱日期", widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(
        required=False, max_length=200, label="Note 备注", widget=forms.TextInput()
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["drop_date"].initial = timezone.localdate()
