"""Page forms of the store counter: the traveler (typed or read from a passport MRZ),
invoice lines, imported invoice numbers, and the void confirmation.

Forms only parse and validate input shape; the rules of Measures art. 10 live in
``core.rules`` and the services.
"""

# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator

from core.forms import BilingualForm
from core.money import money_display
from stores.countries import alpha2_from_mrz, country_choices
from stores.models import DocumentType, GoodsCategory

MAX_FORM_LINES = 200
MAX_IMPORTED_INVOICES = 50

DOCUMENT_TYPE_LABELS: dict[str, str] = {
    DocumentType.PASSPORT: "Passport · 护照",
    DocumentType.HK_MACAO_PERMIT: "HK/Macao residents' permit · 港澳居民来往内地通行证",
    DocumentType.TAIWAN_PERMIT: "Taiwan residents' permit · 台湾居民来往大陆通行证",
}

# The VAT rates a counter sells at today; 6%, 3% and 0% goods have no refund
# rate, and picking one shows the clerk that rule at once.
VAT_RATE_CHOICES = [
    ("0.13", "13%"),
    ("0.09", "9%"),
    ("0.06", "6%"),
    ("0.05", "5%"),
    ("0.03", "3%"),
    ("0", "0% / exempt 免税"),
]

UNIT_SUGGESTIONS = ["件", "个", "套", "双", "盒", "瓶", "台", "只", "条", "kg"]


# --- Passport MRZ --------------------------------------------------------------

MRZ_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
# Keyboard-wedge scanners under a non-US layout sometimes type these for "<".
_FILLER_LOOKALIKES = str.maketrans({"«": "<", "‹": "<", "＜": "<"})


@dataclass(frozen=True)
class MrzReading:
    """What a scanned machine readable zone says, or why it could not be used."""

    ok: bool
    message: str
    name: str = ""
    document_type: str = ""
    document_number: str = ""
    nationality: str = ""
    issuer: str = ""
    expiry_date: date | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["expiry_date"] = self.expiry_date.isoformat() if self.expiry_date else None
        return data


def mrz_lines(text: str) -> list[str]:
    """The MRZ lines of scanner or typed input: upper case, no spaces, empty lines dropped.

    A scanner that sends both lines without a line break gives one 88 (TD3),
    90 (TD1) or 72 (TD2) character line; it is split back into its lines.
    """
    cleaned = text.translate(_FILLER_LOOKALIKES).upper()
    lines = [re.sub(r"\s+", "", line) for line in cleaned.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) == 1:
        single = lines[0]
        for size, count in ((44, 2), (30, 3), (36, 2)):
            if len(single) == size * count:
                return [single[i : i + size] for i in range(0, len(single), size)]
    return lines


def _mrz_date(yymmdd: str, *, future: bool) -> date | None:
    """An MRZ date; the century is the one that makes an expiry future-ish."""
    try:
        yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
        return date(2000 + yy if future or yy < 50 else 1900 + yy, mm, dd)
    except ValueError:
        return None


def _join_name(surname: str, given: str) -> str:
    return " ".join(part for part in (surname.strip(), given.strip()) if part)


def read_mrz(text: str, *, today: date) -> MrzReading:
    """Parse a passport (TD3) or travel permit (TD1) MRZ and verify its check digits.

    Uses the ``mrz`` package's checkers; returns a reading with a clear message
    rather than raising, because a bad scan is an everyday event at a counter.
    """
    from mrz.checker.td1 import TD1CodeChecker
    from mrz.checker.td3 import TD3CodeChecker

    lines = mrz_lines(text)
    if not lines:
        return MrzReading(False, "Scan the passport's machine readable zone (two lines).")
    bad = sorted({c for line in lines for c in line} - MRZ_ALPHABET)
    if bad:
        return MrzReading(
            False,
            "The scan contains characters an MRZ never has ("
            + " ".join(bad[:5])
            + "): check the scanner's keyboard layout and scan again, or type the fields.",
        )
    shape = [len(line) for line in lines]
    if shape == [44, 44]:
        return _read_td3(TD3CodeChecker, lines, today=today)
    if shape == [30, 30, 30]:
        return _read_td1(TD1CodeChecker, lines, today=today)
    if shape == [36, 36]:
        return MrzReading(
            False,
            "This is a TD2 document (two lines of 36): only passports and mainland travel "
            "permits qualify. Type the fields by hand if it is one of those.",
        )
    if len(lines) == 1 and len(lines[0]) == 44:
        return MrzReading(False, "Only one MRZ line came through: scan again to get both lines.")
    return MrzReading(
        False,
        "That is not a complete MRZ: a passport has two lines of 44 characters"
        f" (got {' + '.join(str(n) for n in shape)}). Scan again or type the fields.",
    )


def _expiry_warnings(expiry: date | None, today: date) -> list[str]:
    if expiry is not None and expiry < today:
        return [
            f"The document expired on {expiry.isoformat()}: an expired document is not valid"
            " for a refund."
        ]
    return []


def _read_td3(checker_cls: Any, lines: list[str], *, today: date) -> MrzReading:
    try:
        checker = checker_cls("\n".join(lines))
    except ValueError:
        return MrzReading(False, "The MRZ could not be read: scan again or type the fields.")
    fields = checker.fields()
    failed = [desc for desc, ok in checker.report.fields if not ok and "hash" in desc]
    if failed:
        return MrzReading(
            False,
            "The MRZ check digits do not match ("
            + ", ".join(f.replace(" hash", "") for f in failed)
            + "): scan again or type the fields.",
        )
    if not fields.document_type.startswith("P"):
        return MrzReading(
            False,
            f"This TD3 document is of type {fields.document_type!r}, not a passport:"
            " only passports and mainland travel permits qualify.",
        )
    nationality = alpha2_from_mrz(fields.nationality)
    expiry = _mrz_date(fields.expiry_date, future=True)
    warnings = _expiry_warnings(expiry, today)
    message = "Passport read; check digits verified."
    if nationality is None:
        warnings.append(
            f"The nationality code {fields.nationality!r} is not a country"
            " (stateless, refugee or organisation): choose the nationality by hand."
        )
    return MrzReading(
        True,
        message,
        name=_join_name(fields.surname, fields.name),
        document_type=DocumentType.PASSPORT,
        document_number=fields.document_number.replace("<", ""),
        nationality=nationality or "",
        issuer=fields.country.replace("<", ""),
        expiry_date=expiry,
        warnings=warnings,
    )


def _read_td1(checker_cls: Any, lines: list[str], *, today: date) -> MrzReading:
    try:
        checker = checker_cls("\n".join(lines))
    except ValueError:
        return MrzReading(False, "The card MRZ could not be read: scan again or type the fields.")
    fields = checker.fields()
    failed = [desc for desc, ok in checker.report.fields if not ok and "hash" in desc]
    if failed:
        return MrzReading(
            False,
            "The card's MRZ check digits do not match: scan again or type the fields.",
        )
    expiry = _mrz_date(fields.expiry_date, future=True)
    base = {
        "name": _join_name(fields.surname, fields.name),
        "document_number": fields.document_number.replace("<", ""),
        "issuer": fields.country.replace("<", ""),
        "expiry_date": expiry,
    }
    # Mainland travel permits are cards ("C" document codes) issued by China;
    # the holder's region decides which permit it is.
    if fields.document_type.startswith("C") and base["issuer"] == "CHN":
        region = alpha2_from_mrz(fields.nationality) or ""
        doc_type = {
            "HK": DocumentType.HK_MACAO_PERMIT,
            "MO": DocumentType.HK_MACAO_PERMIT,
            "TW": DocumentType.TAIWAN_PERMIT,
        }.get(region, "")
        warnings = _expiry_warnings(expiry, today)
        if not doc_type:
            return MrzReading(
                True,
                "Travel permit read: choose the permit type and the holder's region"
                " (HK, MO or TW) by hand.",
                warnings=warnings,
                **base,  # type: ignore[arg-type]
            )
        return MrzReading(
            True,
            "Travel permit read; check digits verified.",
            document_type=doc_type,
            nationality=region,
            warnings=warnings,
            **base,  # type: ignore[arg-type]
        )
    return MrzReading(
        False,
        "This is an identity card: only passports and mainland travel permits qualify."
        " Scan the traveler's passport.",
    )


# --- Issue a form ----------------------------------------------------------------

document_number_chars = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9 \-]*$", "Letters and digits only, as printed on the document."
)


class IssueForm(BilingualForm):
    """The traveler and the invoices of one refund form."""

    mrz = forms.CharField(
        required=False,
        max_length=400,
        label="Passport MRZ · 护照机读码",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "class": "mono mrz",
                "spellcheck": "false",
                "autocomplete": "off",
                "autocapitalize": "characters",
                "placeholder": "Scan the two lines at the bottom of the photo page",
            }
        ),
    )
    name = forms.CharField(required=False, max_length=200, label="Name · 姓名 (as in the document)")
    document_type = forms.ChoiceField(
        choices=list(DOCUMENT_TYPE_LABELS.items()),
        initial=DocumentType.PASSPORT,
        label="Document · 证件类型",
    )
    document_number = forms.CharField(
        required=False,
        max_length=30,
        validators=[document_number_chars],
        label="Document number · 证件号码",
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
    )
    nationality = forms.ChoiceField(
        required=False,
        choices=[("", "— choose · 请选择 —"), *country_choices()],
        label="Nationality · 国籍/地区",
    )
    last_entry_date = forms.DateField(
        required=False,
        label="Last entry date · 最后入境日期",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    document_expires_on = forms.DateField(
        required=False,
        label="Document expiry · 证件有效期至",
        help_text="From the MRZ or the photo page; an expired document is not valid.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    email = forms.EmailField(
        required=False,
        label="Traveler's email (optional) · 旅客邮箱（选填）",
        help_text="Notices in the traveler's language: form issued, customs, refund paid.",
        max_length=254,
    )
    language = forms.ChoiceField(
        required=False,
        label="Traveler's language · 旅客语言",
        choices=settings.LANGUAGES,
        initial="en",
    )
    invoice_numbers = forms.CharField(
        required=False,
        max_length=MAX_IMPORTED_INVOICES * 22,
        label="Existing invoice numbers · 已开发票号码",
        help_text="From the e-invoice platform: 20 digits each, one per line.",
        widget=forms.Textarea(attrs={"rows": 2, "class": "mono", "spellcheck": "false"}),
    )
    invoice_choices = forms.MultipleChoiceField(
        required=False,
        label="The store's invoices not on a form yet · 本店未开单发票",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "Invoice %(value)s is no longer free: it is on a form or reversed."
            " · 该发票已开单或已冲红"
        },
    )
    buy_and_refund = forms.BooleanField(required=False, label="Buy & Refund · 即买即退")
    token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, today: date, unused_invoices: Sequence[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.mrz_reading: MrzReading | None = None
        # Several existing invoices on one form: ticked from the store's unused ones.
        field = self.fields["invoice_choices"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [
            (
                inv.number,
                f"{inv.number} · {inv.issued_on:%Y-%m-%d} · {inv.buyer_name}"
                f" · RMB {money_display(inv.total)}",
            )
            for inv in unused_invoices
        ]

    def clean_invoice_numbers(self) -> list[str]:
        raw = self.cleaned_data.get("invoice_numbers") or ""
        numbers = [n for n in re.split(r"[\s,;]+", raw) if n]
        wrong = [n for n in numbers if not re.fullmatch(r"\d{20}", n)]
        if wrong:
            raise forms.ValidationError(
                f"{wrong[0]} is not an invoice number: they have 20 digits."
            )
        if len(numbers) > MAX_IMPORTED_INVOICES:
            raise forms.ValidationError(f"At most {MAX_IMPORTED_INVOICES} invoices per form.")
        return list(dict.fromkeys(numbers))

    def clean_last_entry_date(self) -> date | None:
        value: date | None = self.cleaned_data.get("last_entry_date")
        if value is not None and value > self.today:
            raise forms.ValidationError("The last entry date cannot be in the future.")
        return value

    def clean_nationality(self) -> str:
        return (self.cleaned_data.get("nationality") or "").upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("invoice_choices"):
            typed = data.get("invoice_numbers") or []
            data["invoice_numbers"] = list(dict.fromkeys([*data["invoice_choices"], *typed]))
        # Without the page's script the MRZ is read here: fields left blank are
        # filled from it, fields the clerk typed win.
        if data.get("mrz"):
            self.mrz_reading = read_mrz(data["mrz"], today=self.today)
            reading = self.mrz_reading
            if not reading.ok and not (data.get("name") and data.get("document_number")):
                self.add_error("mrz", reading.message)
            elif reading.ok:
                from_scan = not data.get("document_number")
                for key in ("name", "document_number", "nationality"):
                    if not data.get(key) and getattr(reading, key):
                        data[key] = getattr(reading, key)
                if not data.get("document_expires_on") and reading.expiry_date:
                    data["document_expires_on"] = reading.expiry_date
                if from_scan and reading.document_type:
                    data["document_type"] = reading.document_type
        return data

    def require_traveler(self) -> None:
        """On submit every traveler field is needed (the live estimate tolerates gaps)."""
        data = self.cleaned_data
        messages = {
            "name": "Enter the traveler's name as in the document.",
            "document_number": "Enter the document number.",
            "nationality": "Choose the nationality.",
            "last_entry_date": "Enter the last entry date (from the entry stamp).",
            "document_expires_on": "Enter the document's expiry date (scan the MRZ to fill it).",
        }
        for key, message in messages.items():
            if not data.get(key) and key not in self.errors:
                self.add_error(key, message)


class InvoiceLineForm(BilingualForm):
    """One goods line of the invoice issued with the form (VAT-inclusive price)."""

    item = forms.CharField(max_length=200, label="Item · 货物名称")
    spec = forms.CharField(max_length=100, required=False, label="Spec · 规格型号")
    unit = forms.CharField(
        max_length=20,
        required=False,
        label="Unit · 单位",
        widget=forms.TextInput(attrs={"list": "unit-suggestions"}),
    )
    quantity = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        label="Qty · 数量",
        widget=forms.NumberInput(attrs={"step": "any", "min": "0.01", "inputmode": "decimal"}),
    )
    unit_price = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        label="Unit price incl. VAT · 含税单价",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )
    vat_rate = forms.TypedChoiceField(
        choices=VAT_RATE_CHOICES, coerce=Decimal, initial="0.13", label="VAT · 税率"
    )
    category = forms.ChoiceField(
        choices=GoodsCategory.choices,
        initial=GoodsCategory.OTHER,
        required=False,
        label="Category · 类别",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The goods table shows each label once, as a column header: every input of
        # every line still carries its own accessible name.
        for line_field in self.fields.values():
            line_field.widget.attrs["aria-label"] = str(line_field.label)


LineFormSet = forms.formset_factory(
    InvoiceLineForm,
    extra=1,
    max_num=MAX_FORM_LINES,
    validate_max=True,
    absolute_max=MAX_FORM_LINES,
)


class VoidForm(BilingualForm):
    """The reason a clerk gives when voiding a form (goods returned)."""

    reason = forms.CharField(
        max_length=300,
        label="Reason · 作废原因",
        widget=forms.Textarea(attrs={"rows": 3, "autofocus": True}),
        initial="",
        help_text="E.g. goods returned by the traveler. Red-ink invoices are issued.",
        error_messages={"required": "Give the reason for the void."},
    )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give the reason for the void.")
        return reason
