"""Store-side records: travelers, VAT invoices, refund forms."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from core.models import LedgerHead, RefundPolicy, Store
from core.state import TransitionMap


class DocumentType(models.TextChoices):
    PASSPORT = "passport", "Passport"
    HK_MACAO_PERMIT = "hk_macao_permit", "Mainland Travel Permit for HK/Macao residents"
    TAIWAN_PERMIT = "taiwan_permit", "Mainland Travel Permit for Taiwan residents"


country_code = RegexValidator(r"^[A-Z]{2}$", "ISO 3166 alpha-2, e.g. FR.")


class Traveler(models.Model):
    """An overseas traveler, keyed by document; the number is encrypted at rest."""

    name = models.CharField(max_length=200)
    document_type = models.CharField(max_length=20, choices=DocumentType.choices)
    document_number_encrypted = models.TextField()
    document_hash = models.CharField(max_length=64)
    document_masked = models.CharField(max_length=40)
    nationality = models.CharField(max_length=2, validators=[country_code])
    last_entry_date = models.DateField()
    # NULL: not recorded (rows from before expiry dates were recorded, API without it).
    document_expires_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_hash"],
                name="traveler_one_per_document",
                violation_error_message="A traveler with this document is already on record.",
            )
        ]
        indexes = [models.Index(fields=["document_hash"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.document_masked})"


class GoodsCategory(models.TextChoices):
    """The goods categories the tax authority's statistics are broken down by."""

    CLOTHING = "clothing", "Clothing · 服装"
    BAGS_SHOES = "bags_shoes", "Bags and shoes · 箱包鞋类"
    JEWELRY_WATCHES = "jewelry_watches", "Jewelry and watches · 珠宝钟表"
    COSMETICS = "cosmetics", "Cosmetics · 化妆品"
    ELECTRONICS = "electronics", "Electronics · 电子产品"
    TEA_FOOD = "tea_food", "Tea and food · 茶叶食品"
    ARTS_CRAFTS = "arts_crafts", "Arts and crafts · 工艺品"
    OTHER = "other", "Other · 其他"


class InvoiceKind(models.TextChoices):
    BLUE = "blue", "Ordinary (blue)"
    RED = "red", "Red-ink (reversal)"


class VatInvoice(LedgerHead):
    """An ordinary VAT invoice (数电票) of a store; red-ink ones reverse an original."""

    class Status(models.TextChoices):
        ISSUED = "issued"
        REVERSED = "reversed"

    TRANSITIONS = TransitionMap("invoice", {"issued": {"reversed"}})

    number = models.CharField(max_length=20, unique=True)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(max_length=8, choices=InvoiceKind.choices, default=InvoiceKind.BLUE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUED)
    original = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="red_invoice"
    )
    reason = models.CharField(max_length=100, blank=True)
    buyer_name = models.CharField(max_length=200)
    issued_on = models.DateField()
    total_excl_vat = models.DecimalField(max_digits=14, decimal_places=2)
    total_vat = models.DecimalField(max_digits=14, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    form = models.ForeignKey(
        "RefundForm", on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_on", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(number__regex=r"^\d{20}$"),
                name="invoice_number_20_digits",
                violation_error_message="An invoice number has exactly 20 digits.",
            ),
            models.CheckConstraint(
                condition=(Q(kind="blue", original__isnull=True, total__gt=0))
                | Q(kind="red", original__isnull=False, total__lt=0, form__isnull=True),
                name="invoice_kind_consistent",
                violation_error_message=(
                    "A blue invoice has a positive total and no original; a red-ink invoice "
                    "reverses an original, has a negative total and is on no form."
                ),
            ),
        ]
        indexes = [models.Index(fields=["store", "issued_on"])]

    def __str__(self) -> str:
        return self.number


class VatInvoiceLine(models.Model):
    """One goods line: VAT-inclusive unit price, amount excl. VAT, VAT and total."""

    invoice = models.ForeignKey(VatInvoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    item = models.CharField(max_length=200)
    spec = models.CharField(max_length=100, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4)
    vat_amount = models.DecimalField(max_digits=14, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    category = models.CharField(
        max_length=16, choices=GoodsCategory.choices, default=GoodsCategory.OTHER
    )

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "position"],
                name="invoice_line_position",
                violation_error_message="This invoice already has a line at that position.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0, quantity__gt=0, total__gt=0)
                | Q(amount__lte=0, quantity__lt=0, total__lt=0),
                name="invoice_line_signs",
                violation_error_message=(
                    "A line's quantity, amount and total must all be positive (blue) or all "
                    "negative (red-ink)."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}/{self.position} {self.item}"


class FormStatus(models.TextChoices):
    ISSUED = "issued"
    VERIFIED = "verified"
    PARTIALLY_VERIFIED = "partially_verified"
    REJECTED = "rejected"
    REFUNDED = "refunded"
    VOIDED = "voided"


FORM_TRANSITIONS = TransitionMap(
    "refund form",
    {
        FormStatus.ISSUED: {
            FormStatus.VERIFIED,
            FormStatus.PARTIALLY_VERIFIED,
            FormStatus.REJECTED,
            FormStatus.VOIDED,
        },
        FormStatus.VERIFIED: {FormStatus.REFUNDED},
        FormStatus.PARTIALLY_VERIFIED: {FormStatus.REFUNDED},
    },
)


class RefundForm(LedgerHead):
    """The Refund Application Form: one record per refund that each party advances.

    The traveler's name, document and last entry date are snapshotted as
    presented, since the entry date changes with every trip.
    """

    number = models.CharField(max_length=16, unique=True)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="forms")
    traveler = models.ForeignKey(Traveler, on_delete=models.PROTECT, related_name="forms")
    status = models.CharField(max_length=24, choices=FormStatus.choices, default=FormStatus.ISSUED)
    traveler_name = models.CharField(max_length=200)
    document_type = models.CharField(max_length=20, choices=DocumentType.choices)
    document_number_encrypted = models.TextField()
    document_hash = models.CharField(max_length=64)
    document_masked = models.CharField(max_length=40)
    nationality = models.CharField(max_length=2, validators=[country_code])
    last_entry_date = models.DateField()
    # The document's expiry as presented at issue; NULL when not recorded (SPEC §2).
    document_expires_on = models.DateField(null=True, blank=True)
    purchase_date = models.DateField()
    buy_and_refund = models.BooleanField(default=False)
    policy = models.ForeignKey(RefundPolicy, on_delete=models.PROTECT)
    fee_rate = models.DecimalField(max_digits=5, decimal_places=4)
    total = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    refundable_vat = models.DecimalField(max_digits=14, decimal_places=2)
    fee = models.DecimalField(max_digits=14, decimal_places=2)
    net_refund = models.DecimalField(max_digits=14, decimal_places=2)
    content_digest = models.CharField(max_length=64)
    qr_payload = models.CharField(max_length=160)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    issued_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(number__regex=r"^\d{16}$"),
                name="form_number_16_digits",
                violation_error_message="A form number has exactly 16 digits.",
            ),
            models.CheckConstraint(
                condition=Q(total__gt=0) & Q(net_refund__lte=models.F("refundable_vat")),
                name="form_amounts_consistent",
                violation_error_message=(
                    "A form's total must be positive and its net refund cannot exceed the "
                    "refundable VAT."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status="voided", voided_at__isnull=False)
                | (~Q(status="voided") & Q(voided_at__isnull=True)),
                name="form_voided_has_time",
                violation_error_message=(
                    "A voided form has the time it was voided; any other form has none."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["store", "purchase_date"]),
            models.Index(fields=["document_hash", "purchase_date"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return self.number


class RefundFormLine(models.Model):
    """A goods line of a form, copied from one invoice line."""

    form = models.ForeignKey(RefundForm, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.OneToOneField(
        VatInvoiceLine, on_delete=models.PROTECT, related_name="form_line"
    )
    position = models.PositiveSmallIntegerField()
    item = models.CharField(max_length=200)
    spec = models.CharField(max_length=100, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4)
    refund_rate = models.DecimalField(max_digits=5, decimal_places=4)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    category = models.CharField(
        max_length=16, choices=GoodsCategory.choices, default=GoodsCategory.OTHER
    )

    class Meta:
        ordering = ["form", "position"]
        indexes = [models.Index(fields=["category", "form"])]
        constraints = [
            models.UniqueConstraint(
                fields=["form", "position"],
                name="form_line_position",
                violation_error_message="This form already has a line at that position.",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0, total__gt=0),
                name="form_line_positive",
                violation_error_message="A form line's quantity and total must be positive.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.form_id}/{self.position} {self.item}"


# --- Who sees what (SPEC §3): presentations and the read audit --------------------------


class PresentationHow(models.TextChoices):
    SCAN = "scan", "Scanned its signed QR"
    TYPED = "typed", "Typed form number and full document number"


class FormPresentation(models.Model):
    """A form shown to customs or an agency: its signed QR scanned, or its number typed
    with the full document number of the passport in hand (damaged QR).

    A presentation at a port brings the form into that port's scope (and into the scope of
    the agency serving the port); one at an agency counter into that agency's scope.
    """

    form = models.ForeignKey(RefundForm, on_delete=models.PROTECT, related_name="presentations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    port = models.ForeignKey(
        "core.Port", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    agency = models.ForeignKey(
        "core.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    how = models.CharField(max_length=8, choices=PresentationHow.choices)
    presented_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-presented_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(port__isnull=False) | Q(agency__isnull=False),
                name="presentation_has_place",
                violation_error_message="A presentation happens at a port or at an agency.",
            ),
        ]
        indexes = [
            models.Index(fields=["form", "port"]),
            models.Index(fields=["form", "agency"]),
        ]

    def __str__(self) -> str:
        return f"{self.form_id} {self.how} at {self.port_id or self.agency_id}"


class ReadReason(models.TextChoices):
    SCAN = "scan", "Scanned QR"
    TYPED = "typed", "Typed number and document"
    LIST = "list", "In a list"
    DETAIL = "detail", "Opened the form"


class PersonalDataRead(models.Model):
    """One staff read of a traveler's personal data on a form (append-only audit)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16)
    form = models.ForeignKey(RefundForm, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=8, choices=ReadReason.choices)
    # The full document number was shown (only to a presenting officer or agent).
    unmasked = models.BooleanField(default=False)
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-read_at"]
        indexes = [
            models.Index(fields=["form", "read_at"]),
            models.Index(fields=["user", "read_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.form_id} ({self.reason})"
