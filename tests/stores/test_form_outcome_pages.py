"""The store's form detail and today list say what happened (issue 10 item 7)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agencies.services import refund_pay
from buyrefund.services import guarantees_sweep
from tests.agencies.conftest import DOCUMENT, GOOD_CARD, verify
from tests.buyrefund.test_guarantees import br_form, pay
from tests.factories import line, make_form, traveler

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_client(client: Any, demo: Any) -> Any:
    client.force_login(demo.clerk)
    return client


def partly_verified_and_paid(demo: Any) -> Any:
    """Scarf 2 x 800 and bag 1 x 1,000; customs saw one scarf; paid 88.20 by bank card."""
    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(quantity="2", unit_price="800.00"),
        line(item="手袋 Bag", unit_price="1000.00"),
        who=traveler(),
    )
    scarf = form.lines.get(position=1)
    bag = form.lines.get(position=2)
    verify(form, demo, quantities={scarf.pk: Decimal("1"), bag.pk: Decimal("0")})
    refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method="bank_card",
        payout_account=GOOD_CARD,
        agent=demo.agent,
        agency=demo.agency,
    )
    form.refresh_from_db()
    return form


def test_detail_of_a_partly_verified_refunded_form_shows_what_was_paid(
    demo: Any, clerk_client: Any
) -> None:
    form = partly_verified_and_paid(demo)
    assert form.net_refund == Decimal("234.00")  # the estimate on 2,600 of goods

    page = clerk_client.get(f"/store/forms/{form.number}/").content.decode()

    # 800 verified: 88.00 VAT - 16.00 fee = 72.00 paid, not the 234.00 estimate
    assert 'id="refunded">RMB 72.00<' in page
    assert "Net refund estimated at issue · 开单预计实退" in page
    assert "Net refund (estimate)" not in page
    assert "Partially verified · 部分验核" in page
    assert "RMB 800.00 of 2,600.00" in page
    assert "1 " in page and "of 2" in page  # 1 of 2 scarves verified
    assert "Bank card · 银行卡" in page and f"{GOOD_CARD[-4:]}" in page
    assert GOOD_CARD not in page
    assert "Paid · 已支付" in page
    # and no Void button, with the reason
    assert 'id="void-link"' not in page
    assert "The refund was paid: this form can no longer be voided." in page


def test_detail_of_a_prepaid_buy_and_refund_form_shows_prepayment_and_guarantee(
    demo: Any, clerk_client: Any
) -> None:
    form = br_form(demo)
    pay(demo, form, card_holder_name="DUPONT MARIE")

    page = clerk_client.get(f"/store/forms/{form.number}/").content.decode()
    assert "Card hold in place · 信用卡预授权中" in page
    assert 'id="refunded">RMB 324.00<' in page
    assert "Buy &amp; Refund prepayment at the store" in page
    # issued, but the prepayment must be returned before a void
    assert 'id="void-link"' not in page
    assert "prepayment: it must be returned first" in page

    verify(form, demo)
    guarantees_sweep(today=timezone.localdate())
    page = clerk_client.get(f"/store/forms/{form.number}/").content.decode()
    assert "Released · 预授权已释放" in page
    assert "Verified · 海关已验核" in page
    assert 'id="refunded">RMB 324.00<' in page


def test_void_is_offered_only_for_a_voidable_form(demo: Any, clerk_client: Any) -> None:
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="3600.00"), who=traveler())
    page = clerk_client.get(f"/store/forms/{form.number}/").content.decode()
    assert 'id="void-link"' in page
    assert "Not yet presented to customs" in page and "Not refunded yet" in page
    assert 'id="refunded"' not in page


def test_today_list_shows_what_was_refunded_not_the_estimate(demo: Any, clerk_client: Any) -> None:
    partly_verified_and_paid(demo)  # estimate 234.00, paid 72.00
    make_form(
        demo.store_sh,
        demo.clerk,
        line(unit_price="3600.00"),
        who=traveler(document_number="E1234567"),
    )  # estimate 324.00, nothing paid yet

    page = clerk_client.get("/store/").content.decode()
    assert 'id="refunded-total">RMB 72.00<' in page
    assert '<td class="num refunded">72.00</td>' in page
    assert '<td class="num refunded">—</td>' in page
