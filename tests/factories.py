"""factory-boy factories and builders that go through the real services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model

from core.models import Agency, Port, StaffMembership, Store
from stores.models import RefundForm, VatInvoice
from stores.services import (
    InvoiceLineInput,
    TravelerInput,
    business_today,
    invoice_issue,
    refund_form_issue,
)

User = get_user_model()


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"AG-{n:03d}")
    name = factory.Sequence(lambda n: f"Agency {n}")


class PortFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Port
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n:02d}")
    name = factory.Sequence(lambda n: f"Port {n}")
    city = "Shanghai"
    region_code = "31"
    has_mailbox = True


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"ST-{n:03d}")
    name = factory.Sequence(lambda n: f"Store {n}")
    taxpayer_id = "91310000MA1FL0TEST"
    region_code = "31"
    city = "Shanghai"
    buy_and_refund = False


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-123456")


def staff_user(role: str, place: Any, username: str | None = None) -> Any:
    """A user with a membership of ``role`` at ``place`` (store, port or agency)."""
    user: Any = UserFactory(username=username) if username else UserFactory()
    field = {"clerk": "store", "officer": "port", "agent": "agency"}[role]
    StaffMembership.objects.update_or_create(user_id=user.pk, defaults={"role": role, field: place})
    return user


def line(
    item: str = "丝巾 Silk scarf",
    quantity: str = "1",
    unit_price: str = "200.00",
    vat_rate: str = "0.13",
    **extra: str,
) -> InvoiceLineInput:
    """An invoice line input with VAT-inclusive unit price."""
    return InvoiceLineInput(
        item=item,
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
        vat_rate=Decimal(vat_rate),
        **extra,
    )


def make_invoice(
    store: Store,
    clerk: Any,
    *lines: InvoiceLineInput,
    issued_on: date | None = None,
    buyer_name: str = "Marie Dupont",
) -> VatInvoice:
    """Issue an invoice through the service (one 200.00 line at 13% by default)."""
    return invoice_issue(
        store=store,
        clerk=clerk,
        buyer_name=buyer_name,
        lines=list(lines) or [line()],
        issued_on=issued_on,
    )


def traveler(
    *,
    name: str = "Marie Dupont",
    document_type: str = "passport",
    document_number: str = "18AB12345",
    nationality: str = "FR",
    last_entry_date: date | None = None,
    document_expires_on: date | None = date(2031, 5, 1),
) -> TravelerInput:
    """A traveler input; entered ten days ago by default, document valid until 2031."""
    return TravelerInput(
        name=name,
        document_type=document_type,
        document_number=document_number,
        nationality=nationality,
        last_entry_date=last_entry_date or business_today() - timedelta(days=10),
        document_expires_on=document_expires_on,
    )


def make_form(
    store: Store,
    clerk: Any,
    *lines: InvoiceLineInput,
    who: TravelerInput | None = None,
    issued_on: date | None = None,
    buy_and_refund: bool | None = None,
) -> RefundForm:
    """Issue one invoice and a form for it, through the services."""
    invoice = make_invoice(store, clerk, *lines, issued_on=issued_on)
    return refund_form_issue(
        store=store,
        clerk=clerk,
        traveler=who or traveler(),
        invoice_numbers=[invoice.number],
        buy_and_refund=buy_and_refund,
    )
