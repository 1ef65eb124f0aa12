"""The bilingual receipt PDF: read back with poppler's pdftotext, as a person would read it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from agencies.pdf import ReceiptData, receipt_data_for, receipt_pdf, receipt_reference
from agencies.services import refund_pay
from tests.agencies.conftest import DOCUMENT, GOOD_CARD
from tests.factories import line

PDFTOTEXT = shutil.which("pdftotext") or "pdftotext"
PDFFONTS = shutil.which("pdffonts") or "pdffonts"
pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils missing: scripts/setup --dev"
)

SAMPLE = ReceiptData(
    reference="RF-2026-000123",
    agency_name="东方退税服务有限公司",
    agency_code="DEMO-AGENCY",
    port_code="PVG",
    port_name="上海浦东国际机场",
    form_number="3126031700000127",
    traveler_name="Marie Dupont",
    document_type="passport",
    document_masked="1*****345",
    nationality="FR",
    store_name="上海示范商店",
    store_code="DEMO-SH-001",
    purchase_date=date(2026, 3, 10),
    verified_total=Decimal("3600.00"),
    refundable_vat=Decimal("396.00"),
    fee=Decimal("72.00"),
    fee_rate=Decimal("0.0200"),
    net_refund=Decimal("324.00"),
    payout_method="alipay",
    payout_account_masked="ma***@example.com",
    paid_at=datetime(2026, 3, 17, 6, 5, tzinfo=UTC),
    agent="agent",
    departure_date=date(2026, 3, 17),
)


def pdf_text(data: bytes) -> str:
    out = subprocess.run(  # noqa: S603 - fixed poppler command
        [PDFTOTEXT, "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return " ".join(out.stdout.decode().split())


def test_receipt_prints_form_amounts_payout_and_signature_line_in_both_languages():
    pdf = receipt_pdf(SAMPLE)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for expected in [
        "离境退税退付凭证",
        "Departure VAT Refund Receipt",
        "RF-2026-000123",
        "东方退税服务有限公司 (DEMO-AGENCY)",
        "上海浦东国际机场 (PVG)",
        "3126031700000127",
        "Marie Dupont",
        "护照 Passport 1*****345 · FR",
        "上海示范商店 (DEMO-SH-001)",
        "核验含税金额 Verified amount incl. VAT 3,600.00",  # thousands separated, as on pages
        "应退增值税 Refundable VAT 396.00",
        "代理服务费 Agency fee (2%) -72.00",
        "实退金额 Net refund paid 324.00",
        "叁佰贰拾肆圆整",
        "支付宝 Alipay",
        "ma***@example.com",
        "2026-03-17 14:05 (UTC+8)",  # paid time shown in Shanghai time
        "经办人 Agent agent",
        "旅客签名 Traveler's signature",
    ]:
        assert expected in text, expected


def test_cash_receipt_has_no_account_row_and_escapes_markup():
    pdf = receipt_pdf(
        replace(SAMPLE, payout_method="cash", payout_account_masked="", traveler_name="A <b>&")
    )
    text = pdf_text(pdf)
    assert "现金 Cash" in text
    assert "账户 Account" not in text
    assert "A <b>&" in text


def test_chinese_font_is_embedded():
    pdf = receipt_pdf(SAMPLE)
    fonts = subprocess.run(  # noqa: S603 - fixed poppler command
        [PDFFONTS, "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "WenQuanYi" in fonts


def test_receipt_of_a_paid_refund_reads_the_refund_the_form_and_customs(demo, verified_form):
    form = verified_form(line(unit_price="3600.00"))
    refund = refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method="bank_card",
        payout_account=GOOD_CARD,
        agent=demo.agent,
        agency=demo.agency,
    )
    data = receipt_data_for(refund)
    assert data.reference == receipt_reference(refund)
    assert data.reference == f"R{refund.refund_date:%Y%m%d}-{refund.pk:06d}"
    assert (data.verified_total, data.refundable_vat, data.fee, data.net_refund) == (
        Decimal("3600.00"),
        Decimal("396.00"),
        Decimal("72.00"),
        Decimal("324.00"),
    )
    assert data.departure_date == form.verification.departure_date
    text = pdf_text(receipt_pdf(data))
    assert "示范退税代理机构 Demo Refund Agency (DEMO-AGENCY)" in text
    assert f"{GOOD_CARD[:4]} **** **** {GOOD_CARD[-4:]}" in text
    assert GOOD_CARD not in text  # never the full card number
    assert "银行卡 Bank card" in text
    assert "(PVG)" in text
    assert "经办人 Agent agent" in text


def test_receipt_lists_verified_lines_and_explains_a_lower_net_refund(demo, tmp_path):
    # Issue 10 item 9: scarf 2 x 800 and bag 1 x 1,000; customs saw one scarf only.
    from tests.agencies.conftest import verify
    from tests.factories import make_form, traveler

    form = make_form(
        demo.store_sh,
        demo.clerk,
        line(quantity="2", unit_price="800.00", unit="条"),
        line(item="手袋 Bag", unit_price="1000.00"),
        who=traveler(),
    )
    scarf, bag = form.lines.get(position=1), form.lines.get(position=2)
    verify(form, demo, quantities={scarf.pk: Decimal("1"), bag.pk: Decimal("0")})
    refund = refund_pay(
        form_number=form.number,
        qr=form.qr_payload,
        document_number=DOCUMENT,
        payout_method="cash",
        agent=demo.agent,
        agency=demo.agency,
    )
    data = receipt_data_for(refund)
    assert [(x.item, x.quantity, x.quantity_verified, x.verified_total) for x in data.lines] == [
        ("丝巾 Silk scarf", Decimal("2.00"), Decimal("1.00"), Decimal("800.00")),
        ("手袋 Bag", Decimal("1.00"), Decimal("0.00"), Decimal("0.00")),
    ]
    pdf = receipt_pdf(data)
    # rendered as a person sees it
    from tests.browser import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source = ARTIFACTS / "receipt-partial.pdf"
    source.write_bytes(pdf)
    subprocess.run(  # noqa: S603 - fixed poppler command
        [shutil.which("pdftoppm") or "pdftoppm", "-png", "-r", "90", str(source),
         str(ARTIFACTS / "receipt-partial")],
        check=True,
    )  # fmt: skip
    text = pdf_text(pdf)
    for expected in [
        "核验货物 Verified goods",
        "丝巾 Silk scarf 2条 1条 13% 800.00",
        "手袋 Bag 1 0 13% 0.00",
        "实退金额 Net refund paid 72.00",
        "实退金额低于申请单预计金额 RMB 234.00",
        "The net refund is lower than the form's estimate of RMB 234.00:",
        "Customs verified only part of the goods: RMB 800.00 of RMB 2,600.00"
        " (丝巾 Silk scarf 1/2; 手袋 Bag 0/1).",
    ]:
        assert expected in text, expected


def test_a_fully_verified_receipt_has_no_difference_note():
    text = pdf_text(receipt_pdf(replace(SAMPLE, form_total=Decimal("3600.00"),
                                        estimated_net=Decimal("324.00"))))  # fmt: skip
    assert "lower than the form's estimate" not in text
