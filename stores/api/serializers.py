"""Store API shapes: parse requests into service inputs, render records as SPEC §4 says."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model
from django.db.models.manager import BaseManager
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_attribute as drf_get_attribute
from rest_framework.utils.serializer_helpers import BindingDict

from core.api.serializers import RateField, SaneDateField, StrictCharField, StrictSerializer
from core.crypto import normalize_document_number
from core.ledger import record_history
from core.money import amount_in_words, rate_str
from core.rules import DOCUMENT_TYPES
from stores.countries import country_names
from stores.models import (
    FormStatus,
    GoodsCategory,
    RefundForm,
    RefundFormLine,
    VatInvoice,
    VatInvoiceLine,
)
from stores.scopes import nationality_label
from stores.selectors import traveler_page_path
from stores.services import (
    MAX_FORM_INVOICES,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    VAT_RATES,
    VOID_REASON_MAX,
    InvoiceLineInput,
    TravelerInput,
    business_today,
)

DOCUMENT_NUMBER = re.compile(r"^[A-Z0-9]{5,20}$")
CENT = Decimal("0.01")


@functools.cache
def _shared(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    return serializer_class()


def represent(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """``serializer_class(instance).data``, rendered by one shared instance of the class.

    A (Model)Serializer builds its fields, nested serializers' too, on every instantiation,
    which cost a hot reply more than rendering it; the fields do not change, so one
    context-free instance per process renders every reply (for reply serializers that
    read no ``context``). It renders through ``_plan``: each field's value read and
    passed to that field's own ``to_representation``, without DRF's generic walk.
    """
    serializer = _shared(serializer_class)
    plan = _plan_of(serializer_class)
    if plan is not None:
        try:
            return plan(instance)
        except (KeyError, AttributeError):
            pass  # a value missing: DRF's own walk decides (it may skip the field)
    data: dict[str, Any] = serializer.to_representation(instance)
    return data


_Render = Callable[[Any], dict[str, Any]]


def _read(instance: Any, attrs: list[str]) -> Any:
    """DRF's ``get_attribute`` for a path of model attributes to a plain value; DRF's own
    where it differs (a mapping or a callable on the way, a related row missing)."""
    value = instance
    for attr in attrs:
        if not isinstance(value, Model):
            return drf_get_attribute(instance, attrs)
        try:
            value = getattr(value, attr)
        except ObjectDoesNotExist:
            return None
        if callable(value):
            return drf_get_attribute(instance, attrs)
    return value


@functools.cache
def _plan_of(serializer_class: type[serializers.Serializer]) -> _Render | None:
    return _plan(_shared(serializer_class))


def _plan(serializer: serializers.Serializer) -> _Render | None:
    """What ``serializer.to_representation`` does for its fields, decided once: per field
    the attribute path to read and the field's ``to_representation`` (None stays None), a
    method field's method, a nested list's own plan. None (DRF renders it) when the
    serializer or a field changes how values are read or the walk itself."""
    if type(serializer).to_representation is not serializers.Serializer.to_representation:
        return None
    steps: list[tuple[str, int, Any, Any]] = []
    for field in serializer._readable_fields:
        name = str(field.field_name)
        if isinstance(field, serializers.ListSerializer):
            if type(field).to_representation is not serializers.ListSerializer.to_representation:
                return None
            child = _plan(field.child)  # type: ignore[arg-type]
            if child is None or field.source == "*":
                return None
            steps.append((name, 1, field.source_attrs, child))
        elif isinstance(field, serializers.BaseSerializer):
            return None
        elif isinstance(field, serializers.SerializerMethodField):
            steps.append((name, 2, None, getattr(serializer, field.method_name)))
        elif field.source == "*" or (
            type(field).get_attribute is not serializers.Field.get_attribute
        ):
            return None
        else:
            steps.append((name, 0, field.source_attrs, field.to_representation))

    def render(instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, kind, attrs, convert in steps:
            if kind == 2:
                data[name] = convert(instance)
                continue
            value = _read(instance, attrs)
            if value is None:
                data[name] = None
            elif kind == 1:
                rows = value.all() if isinstance(value, BaseManager) else value
                data[name] = [convert(row) for row in rows]
            else:
                data[name] = convert(value)
        return data

    return render


class SharedFieldsMixin:
    """An input serializer whose fields are built once per class, not on every request.

    DRF deep-copies the declared fields (nested serializers and their fields too) for each
    instance; validation keeps no state on the fields (errors and data live on the
    instance being validated), so one set serves every request. For request bodies that
    read no ``context`` and are never ``partial``.
    """

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        shared: BindingDict | None = cls.__dict__.get("_shared_fields")
        if shared is None:
            shared = BindingDict(self)  # type: ignore[arg-type]
            for name, field in self.get_fields().items():  # type: ignore[attr-defined]
                shared[name] = field
            cls._shared_fields = shared  # type: ignore[attr-defined]
        return shared


def money_field(**kwargs: Any) -> serializers.DecimalField:
    """Money out: a string with two decimals."""
    return serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, **kwargs)


# --- Invoices ----------------------------------------------------------------------


class InvoiceLineInputSerializer(StrictSerializer):
    """One goods line as the POS sends it; the unit price includes VAT."""

    item = serializers.CharField(max_length=200)
    spec = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    quantity = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=CENT, max_value=MAX_QUANTITY
    )
    unit_price = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=CENT, max_value=MAX_UNIT_PRICE
    )
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    category = serializers.ChoiceField(
        choices=GoodsCategory.choices,
        required=False,
        default=GoodsCategory.OTHER,
        help_text="Goods category for the tax authority's statistics (default other).",
    )

    def validate_vat_rate(self, value: Decimal) -> Decimal:
        if value not in VAT_RATES:
            rates = ", ".join(rate_str(r) for r in sorted(VAT_RATES))
            raise serializers.ValidationError(f"{value} is not a VAT rate (one of {rates}).")
        return value


class InvoiceCreateSerializer(SharedFieldsMixin, StrictSerializer):
    """POST /invoices/ body."""

    buyer_name = StrictCharField(max_length=200)
    issued_on = SaneDateField(required=False)
    lines = InvoiceLineInputSerializer(
        many=True,
        allow_empty=False,
        max_length=MAX_LINES,  # type: ignore[call-arg]
    )

    def validate_issued_on(self, value: Any) -> Any:
        if value > business_today():
            raise serializers.ValidationError("The invoice date cannot be in the future.")
        return value

    def line_inputs(self) -> list[InvoiceLineInput]:
        return [InvoiceLineInput(**line) for line in self.validated_data["lines"]]


class InvoiceLineSerializer(serializers.ModelSerializer):
    """An invoice line: VAT-inclusive unit price, amount excl. VAT, VAT and total."""

    vat_rate = RateField()

    class Meta:
        model = VatInvoiceLine
        fields = [
            "position",
            "item",
            "spec",
            "unit",
            "quantity",
            "unit_price",
            "vat_rate",
            "amount",
            "vat_amount",
            "total",
            "category",
        ]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    """A VAT invoice (blue, or red-ink reversing ``original``) with its lines and totals."""

    store = serializers.CharField(source="store.code", read_only=True)
    # Plain strings: a second "status" enum would collide with the form's in the schema.
    status = serializers.CharField(read_only=True, help_text="issued | reversed")
    original = serializers.SerializerMethodField()
    form = serializers.SerializerMethodField()
    lines = InvoiceLineSerializer(many=True, read_only=True)
    total_in_words = serializers.SerializerMethodField()

    class Meta:
        model = VatInvoice
        fields = [
            "number",
            "kind",
            "status",
            "store",
            "buyer_name",
            "issued_on",
            "original",
            "reason",
            "form",
            "lines",
            "total_excl_vat",
            "total_vat",
            "total",
            "total_in_words",
        ]
        read_only_fields = fields

    def get_original(self, obj: VatInvoice) -> str | None:
        return obj.original.number if obj.original_id else None  # type: ignore[union-attr]

    def get_form(self, obj: VatInvoice) -> str | None:
        return obj.form.number if obj.form_id else None  # type: ignore[union-attr]

    def get_total_in_words(self, obj: VatInvoice) -> str:
        return amount_in_words(obj.total)


# --- Forms -------------------------------------------------------------------------


class TravelerInputSerializer(StrictSerializer):
    """The traveler as presented: document, nationality and this trip's last entry date."""

    name = StrictCharField(max_length=200)
    document_type = serializers.ChoiceField(choices=list(DOCUMENT_TYPES))
    document_number = StrictCharField(max_length=40)
    nationality = serializers.CharField(max_length=2, min_length=2)
    last_entry_date = SaneDateField()
    document_expires_on = SaneDateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The document's expiry date (the MRZ carries it). Optional: when given,"
        " a document expired on the purchase date is refused (422 document_expired) and"
        " check B at the counter fails once it has expired on the refund day.",
    )

    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        default="",
        max_length=254,
        help_text="Where the traveler's notices go (SPEC §5); optional.",
    )
    language = serializers.ChoiceField(
        choices=[code for code, _ in settings.LANGUAGES],
        required=False,
        default="en",
        help_text="The traveler's language for the phone page and notices.",
    )

    def validate_document_number(self, value: str) -> str:
        number = normalize_document_number(value)
        if not DOCUMENT_NUMBER.match(number):
            raise serializers.ValidationError("A document number has 5 to 20 letters or digits.")
        return number

    def validate_nationality(self, value: str) -> str:
        code = value.upper()
        if country_names(code) is None:
            raise serializers.ValidationError(f"{value} is not an ISO 3166 alpha-2 country code.")
        return code

    def validate_last_entry_date(self, value: Any) -> Any:
        if value > business_today():
            raise serializers.ValidationError("The last entry date cannot be in the future.")
        return value


class FormCreateSerializer(SharedFieldsMixin, StrictSerializer):
    """POST /forms/ body."""

    traveler = TravelerInputSerializer()
    invoice_numbers = serializers.ListField(
        child=serializers.RegexField(r"^\d{20}$", error_messages={"invalid": "20 digits."}),
        allow_empty=False,
        max_length=MAX_FORM_INVOICES,
    )
    buy_and_refund = serializers.BooleanField(required=False, default=False)

    def traveler_input(self) -> TravelerInput:
        return TravelerInput(**self.validated_data["traveler"])


class FormLineSerializer(serializers.ModelSerializer):
    """A goods line of a form with its refund rate."""

    vat_rate = RateField()
    refund_rate = RateField()

    class Meta:
        model = RefundFormLine
        fields = [
            "id",
            "position",
            "item",
            "spec",
            "unit",
            "quantity",
            "unit_price",
            "vat_rate",
            "total",
            "refund_rate",
            "category",
        ]
        read_only_fields = fields


class FormIssuedSerializer(serializers.ModelSerializer):
    """A form as issued: lines, amounts and the signed QR payload."""

    store = serializers.CharField(source="store.code", read_only=True)
    lines = FormLineSerializer(many=True, read_only=True)
    qr = serializers.CharField(source="qr_payload", read_only=True)
    traveler_page = serializers.SerializerMethodField(
        help_text="The path of the traveler's phone page, /t/<token>/ (an unguessable token)."
    )

    class Meta:
        model = RefundForm
        fields = [
            "number",
            "status",
            "store",
            "purchase_date",
            "issued_at",
            "buy_and_refund",
            "lines",
            "total",
            "refundable_vat",
            "fee",
            "net_refund",
            "qr",
            "traveler_page",
        ]
        read_only_fields = fields

    def get_traveler_page(self, obj: RefundForm) -> str | None:
        return traveler_page_path(obj)


class FormSummarySerializer(serializers.ModelSerializer):
    """A form in a list: no lines, the traveler masked."""

    store = serializers.CharField(source="store.code", read_only=True)
    traveler_name = serializers.CharField(read_only=True)
    document_number_masked = serializers.CharField(source="document_masked", read_only=True)

    class Meta:
        model = RefundForm
        fields = [
            "number",
            "status",
            "store",
            "purchase_date",
            "issued_at",
            "buy_and_refund",
            "traveler_name",
            "nationality",
            "document_type",
            "document_number_masked",
            "total",
            "refundable_vat",
            "fee",
            "net_refund",
            "voided_at",
        ]
        read_only_fields = fields


class FormTravelerSerializer(serializers.Serializer):
    """The traveler as recorded on the form; the document number only masked."""

    name = serializers.CharField(source="traveler_name")
    nationality = serializers.CharField()
    nationality_name = serializers.SerializerMethodField(help_text='"JP Japan"')
    document_type = serializers.CharField()
    document_number_masked = serializers.CharField(source="document_masked")
    document_number = serializers.SerializerMethodField(
        help_text="The full number, only for an officer or agent who has the form presented"
        " (its QR scanned, or number and document typed, at their port or counter); else null."
    )
    last_entry_date = serializers.DateField()
    document_expires_on = serializers.DateField(allow_null=True)

    def get_nationality_name(self, obj: RefundForm) -> str:
        return nationality_label(obj.nationality)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_document_number(self, obj: RefundForm) -> str | None:
        value: str | None = self.context.get("document_number")
        return value


class FormInvoiceSerializer(serializers.ModelSerializer):
    """An invoice of a form, with the red-ink invoice that reversed it, if any."""

    status = serializers.CharField(read_only=True, help_text="issued | reversed")
    red_invoice = serializers.SerializerMethodField()

    class Meta:
        model = VatInvoice
        fields = ["number", "issued_on", "status", "total", "red_invoice"]
        read_only_fields = fields

    def get_red_invoice(self, obj: VatInvoice) -> str | None:
        red = getattr(obj, "red_invoice", None)
        return red.number if red is not None else None


class PolicySerializer(serializers.Serializer):
    """The refund policy the purchase date picked (minimum, cash payout cap)."""

    effective_from = serializers.DateField()
    minimum_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    cash_cap = serializers.DecimalField(max_digits=14, decimal_places=2)


class HistoryEntrySerializer(serializers.Serializer):
    """One status change from the ledger."""

    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor = serializers.CharField(source="actor_label")
    at = serializers.DateTimeField(source="created_at")


FormSection = Callable[[RefundForm], dict[str, Any] | None]
_form_sections: dict[str, FormSection] = {}
_section_schemas: dict[str, type[serializers.Serializer]] = {}


def register_form_section(
    key: str, build: FormSection, schema: type[serializers.Serializer] | None = None
) -> None:
    """Let a downstream app add a key to the form detail (customs' verification,
    the Buy & Refund prepayment and guarantee) without stores importing it.

    ``schema`` (a serializer class describing the section) puts the key in the OpenAPI
    schema of ``FormDetail`` as an optional property: present when the section applies.
    """
    _form_sections[key] = build
    if schema is not None:
        _section_schemas[key] = schema


def optional_form_sections(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """POSTPROCESSING_HOOK: the sections of ``FormDetail`` are present only when they apply."""
    detail = result.get("components", {}).get("schemas", {}).get("FormDetail")
    if detail and "required" in detail:
        detail["required"] = [name for name in detail["required"] if name not in _form_sections]
    return result


class _SectionField(serializers.Field):
    """A registered section as a read-only field: documented by its serializer."""

    def __init__(self, build: FormSection, **kwargs: Any) -> None:
        self.build = build
        super().__init__(source="*", read_only=True, required=False, **kwargs)

    def to_representation(self, value: RefundForm) -> dict[str, Any] | None:
        return self.build(value)


def form_sections(form: RefundForm) -> dict[str, dict[str, Any]]:
    """What downstream apps add to a form (verification, refund, prepayment, guarantee...)."""
    sections = {}
    for key, build in _form_sections.items():
        section = build(form)
        if section is not None:
            sections[key] = section
    return sections


class FormDetailSerializer(FormIssuedSerializer):
    """GET /forms/{number}/: the form, its traveler, invoices, amounts, status and history."""

    store_name = serializers.CharField(source="store.name", read_only=True)
    issued_by = serializers.CharField(source="issued_by.username", read_only=True)
    traveler = serializers.SerializerMethodField()
    invoices = FormInvoiceSerializer(many=True, read_only=True)
    fee_rate = RateField(read_only=True)
    policy = PolicySerializer(read_only=True)
    history = serializers.SerializerMethodField()

    class Meta(FormIssuedSerializer.Meta):
        fields = [
            *FormIssuedSerializer.Meta.fields,
            "store_name",
            "issued_by",
            "traveler",
            "invoices",
            "fee_rate",
            "policy",
            "voided_at",
            "void_reason",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(FormTravelerSerializer)
    def get_traveler(self, obj: RefundForm) -> dict[str, Any]:
        return dict(FormTravelerSerializer(obj, context=self.context).data)

    @extend_schema_field(HistoryEntrySerializer(many=True))
    def get_history(self, obj: RefundForm) -> list[dict[str, Any]]:
        return list(HistoryEntrySerializer(record_history(obj), many=True).data)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for key, build in _form_sections.items():
            field = _SectionField(build)
            schema = _section_schemas.get(key)
            if schema is not None:
                extend_schema_field(schema)(field)  # type: ignore[type-var]
            fields[key] = field
        return fields

    def to_representation(self, instance: RefundForm) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        # A section that does not apply (no verification yet, not Buy & Refund) is absent.
        for key in _form_sections:
            if data.get(key) is None:
                data.pop(key, None)
        return data


class FormSearchSerializer(StrictSerializer):
    """POST /forms/search/ body: the traveler's document number (and a status)."""

    document_number = StrictCharField(max_length=40)
    status = serializers.ChoiceField(choices=FormStatus.choices, required=False)


class VoidSerializer(StrictSerializer):
    """POST /forms/{number}/void/ body."""

    reason = serializers.CharField(max_length=VOID_REASON_MAX)


class VoidResultSerializer(serializers.Serializer):
    """The voided form and the red-ink invoices that reverse its invoices."""

    number = serializers.CharField()
    status = serializers.CharField()
    red_invoices = InvoiceSerializer(many=True)
