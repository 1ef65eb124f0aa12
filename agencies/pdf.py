"""The bilingual (中文/English) refund receipt the traveler takes away and signs.

``receipt_pdf`` draws from a small frozen dataclass, so it knows nothing of the
database; ``receipt_data_for`` builds that dataclass from a paid refund.
"""

# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.money import amount_in_words, money_display
from core.pdf import cjk_font
from stores.pdf import PHONE_QR_SIZE, PhoneQr
from stores.selectors import traveler_page_path

if TYPE_CHECKING:
    from agencies.models import Refund
    from stores.models import RefundForm

SHANGHAI = ZoneInfo("Asia/Shanghai")

PAYOUT_LABELS = {
    "cash": "现金 Cash",
    "bank_card": "银行卡 Bank card",
    "alipay": "支付宝 Alipay",
    "wechat": "微信支付 WeChat Pay",
}
DOCUMENT_LABELS = {
    "passport": "护照 Passport",
    "hk_macao_permit": "港澳居民来往内地通行证 HK/Macao permit",
    "taiwan_permit": "台湾居民来往大陆通行证 Taiwan permit",
}


@dataclass(frozen=True)
class ReceiptLine:
    """One goods line as customs verified it."""

    item: str
    unit: str
    quantity: Decimal
    quantity_verified: Decimal
    vat_rate: Decimal
    verified_total: Decimal


@dataclass(frozen=True)
class ReceiptData:
    """Everything printed on a refund receipt, already masked where it must be."""

    reference: str
    agency_name: str
    agency_code: str
    port_code: str
    port_name: str
    form_number: str
    traveler_name: str
    document_type: str
    document_masked: str
    nationality: str
    store_name: str
    store_code: str
    purchase_date: date
    verified_total: Decimal
    refundable_vat: Decimal
    fee: Decimal
    fee_rate: Decimal
    net_refund: Decimal
    payout_method: str
    payout_account_masked: str
    paid_at: datetime
    agent: str
    departure_date: date | None = None
    lines: tuple[ReceiptLine, ...] = ()
    # The form as issued: its goods total and net refund estimate (to explain a difference).
    form_total: Decimal | None = None
    estimated_net: Decimal | None = None
    estimated_fee_rate: Decimal | None = None
    # The traveler's phone page (second QR), absolute URL; empty: none.
    phone_page_url: str = ""


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def lower_than_estimate_reasons(data: ReceiptData) -> list[str]:
    """Why the net refund paid is below the form's estimate, one bilingual sentence each."""
    if data.estimated_net is None or data.net_refund >= data.estimated_net:
        return []
    reasons = []
    if data.form_total is not None and data.verified_total < data.form_total:
        short = [line for line in data.lines if line.quantity_verified < line.quantity]
        items = "; ".join(
            f"{_esc(line.item)} {_qty(line.quantity_verified)}/{_qty(line.quantity)}"
            for line in short
        )
        reasons.append(
            f"海关仅核验了部分货物（核验 {money_display(data.verified_total)} /"
            f" 申请 {money_display(data.form_total)}）。Customs verified only part of the goods:"
            f" RMB {money_display(data.verified_total)} of RMB {money_display(data.form_total)}"
            + (f" ({items})." if items else ".")
        )
    if data.estimated_fee_rate is not None and data.fee_rate > data.estimated_fee_rate:
        reasons.append(
            f"代理服务费率为退付当日费率 {_pct(data.fee_rate)}"
            f"（开单时 {_pct(data.estimated_fee_rate)}）。"
            f"The agency fee is the rate on the refund day, {_pct(data.fee_rate)}"
            f" ({_pct(data.estimated_fee_rate)} when the form was issued)."
        )
    return reasons


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=14, leading=18, spaceAfter=1),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base, fontSize=9, leading=12, textColor=colors.HexColor("#5b6475")
        ),
        "label": ParagraphStyle("label", parent=base, textColor=colors.HexColor("#5b6475")),
        "section": ParagraphStyle(
            "section", parent=base, fontSize=9.5, leading=13, spaceBefore=5, spaceAfter=2
        ),
        "money": ParagraphStyle("money", parent=base, alignment=TA_RIGHT),
        "big": ParagraphStyle("big", parent=base, fontSize=11, leading=14, alignment=TA_RIGHT),
        "small": ParagraphStyle(
            "small", parent=base, fontSize=7, leading=9, textColor=colors.HexColor("#5b6475")
        ),
    }


def _pairs(rows: list[tuple[str, str]], st: dict[str, ParagraphStyle], width: float) -> Table:
    table = Table(
        [[Paragraph(k, st["label"]), Paragraph(v, st["base"])] for k, v in rows],
        colWidths=[width * 0.36, width * 0.64],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (0, 0), (-1, -1), st["base"].fontName),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d9dee7")),
            ]
        )
    )
    return table


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def receipt_pdf(data: ReceiptData) -> bytes:
    """Render the receipt as an A5 PDF with the CJK font embedded."""
    font = cjk_font()
    st = _styles(font)
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A5,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=f"Refund receipt {data.reference}",
        author=data.agency_name,
        subject=f"Departure VAT refund, form {data.form_number}",
    )
    # The frame pads 6 pt on each side; tables span exactly what is left.
    width = doc.width - 12
    paid_local = data.paid_at.astimezone(SHANGHAI)
    story: list[Flowable] = [
        Paragraph("离境退税退付凭证", st["title"]),
        Paragraph("Departure VAT Refund Receipt", st["subtitle"]),
        Spacer(1, 3 * mm),
        _pairs(
            [
                ("凭证号 Receipt no.", f'<font size="10">{_esc(data.reference)}</font>'),
                ("退税代理机构 Agency", f"{_esc(data.agency_name)} ({_esc(data.agency_code)})"),
                ("口岸 Port", f"{_esc(data.port_name)} ({_esc(data.port_code)})"),
                ("退付时间 Paid at", paid_local.strftime("%Y-%m-%d %H:%M") + " (UTC+8)"),
                (
                    "退付方式 Payout",
                    _esc(PAYOUT_LABELS.get(data.payout_method, data.payout_method)),
                ),
                *(
                    [("账户 Account", _esc(data.payout_account_masked))]
                    if data.payout_account_masked
                    else []
                ),
                ("经办人 Agent", _esc(data.agent)),
            ],
            st,
            width,
        ),
        Paragraph("退税申请单 Refund application form", st["section"]),
        _pairs(
            [
                ("申请单号 Form no.", f'<font size="10">{_esc(data.form_number)}</font>'),
                ("旅客 Traveler", _esc(data.traveler_name)),
                (
                    "证件 Document",
                    f"{_esc(DOCUMENT_LABELS.get(data.document_type, data.document_type))}"
                    f" {_esc(data.document_masked)} · {_esc(data.nationality)}",
                ),
                ("商店 Store", f"{_esc(data.store_name)} ({_esc(data.store_code)})"),
                ("购物日期 Purchase date", data.purchase_date.isoformat()),
                *(
                    [("离境日期 Departure date", data.departure_date.isoformat())]
                    if data.departure_date
                    else []
                ),
            ],
            st,
            width,
        ),
        *(
            [Paragraph("核验货物 Verified goods", st["section"]), _goods(data, st, width)]
            if data.lines
            else []
        ),
        Paragraph("金额 Amounts (RMB)", st["section"]),
        _amounts(data, st, width),
        *_difference(data, st),
        Spacer(1, 4 * mm),
        _signature(st, width),
        Spacer(1, 3 * mm),
        *(_phone(data.phone_page_url, st, width) if data.phone_page_url else []),
        Paragraph(
            "本人确认已收到上述退税款。I confirm I have received the net refund above."
            " 退税款按海关核验的商品数量计算 / Computed on the quantities verified by customs."
            " 请妥善保管本凭证 / Keep this receipt.",
            st["small"],
        ),
    ]
    doc.build(story)
    return buffer.getvalue()


def _phone(url: str, st: dict[str, ParagraphStyle], width: float) -> list[Flowable]:
    """The second QR: the traveler's phone page, to keep the receipt on the phone."""
    table = Table(
        [
            [
                PhoneQr(url),
                Paragraph(
                    "手机扫码查看本次退税 · Scan to keep this refund on your phone"
                    " (your trip's forms, in your language).",
                    st["small"],
                ),
            ]
        ],
        colWidths=[PHONE_QR_SIZE + 3 * mm, width - PHONE_QR_SIZE - 3 * mm],
    )
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )
    return [table, Spacer(1, 2 * mm)]


def _amounts(data: ReceiptData, st: dict[str, ParagraphStyle], width: float) -> Table:
    fee_pct = f"{(data.fee_rate * 100).normalize():f}%"
    rows = [
        ["核验含税金额 Verified amount incl. VAT", money_display(data.verified_total)],
        ["应退增值税 Refundable VAT", money_display(data.refundable_vat)],
        [f"代理服务费 Agency fee ({fee_pct})", "-" + money_display(data.fee)],
        ["实退金额 Net refund paid", money_display(data.net_refund)],
    ]
    cells = [
        [
            Paragraph(label, st["base"] if i < 3 else st["section"]),
            Paragraph(
                value,
                st["money"] if i < 3 else st["big"],
            ),
        ]
        for i, (label, value) in enumerate(rows)
    ]
    cells.append(
        [
            Paragraph("大写 In words", st["label"]),
            Paragraph(amount_in_words(data.net_refund), st["money"]),
        ]
    )
    table = Table(cells, colWidths=[width * 0.68, width * 0.32])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), st["base"].fontName),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LINEABOVE", (0, 3), (-1, 3), 0.8, colors.HexColor("#1d2433")),
                ("BACKGROUND", (0, 3), (-1, 3), colors.HexColor("#f5f7fa")),
            ]
        )
    )
    return table


def _goods(data: ReceiptData, st: dict[str, ParagraphStyle], width: float) -> Table:
    """Each line: item, quantity on the form, quantity verified, VAT rate, verified amount."""
    head = [
        Paragraph("货物 Item", st["label"]),
        Paragraph("申请 Bought", st["label"]),
        Paragraph("核验 Verified", st["label"]),
        Paragraph("税率 VAT", st["label"]),
        Paragraph("核验金额 Amount", st["label"]),
    ]
    rows: list[list[Flowable]] = [head]
    for line in data.lines:
        unit = f" {_esc(line.unit)}" if line.unit else ""
        rows.append(
            [
                Paragraph(_esc(line.item), st["base"]),
                Paragraph(_qty(line.quantity) + unit, st["money"]),
                Paragraph(
                    ("<b>" if line.quantity_verified < line.quantity else "")
                    + _qty(line.quantity_verified)
                    + unit
                    + ("</b>" if line.quantity_verified < line.quantity else ""),
                    st["money"],
                ),
                Paragraph(_pct(line.vat_rate), st["money"]),
                Paragraph(money_display(line.verified_total), st["money"]),
            ]
        )
    table = Table(
        rows,
        colWidths=[width * 0.36, width * 0.15, width * 0.15, width * 0.12, width * 0.22],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (0, 0), (-1, -1), st["base"].fontName),
                ("LEFTPADDING", (0, 0), (-1, -1), 1),
                ("RIGHTPADDING", (0, 0), (-1, -1), 1),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d9dee7")),
            ]
        )
    )
    return table


def _difference(data: ReceiptData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The estimate on the form, and why the refund paid is lower (if it is)."""
    reasons = lower_than_estimate_reasons(data)
    if not reasons or data.estimated_net is None:
        return []
    estimate = money_display(data.estimated_net)
    text = (
        f"实退金额低于申请单预计金额 RMB {estimate}。"
        f"The net refund is lower than the form's estimate of RMB {estimate}:"
    )
    return [
        Spacer(1, 1.5 * mm),
        Paragraph(text, st["small"]),
        *[Paragraph("– " + reason, st["small"]) for reason in reasons],
    ]


def _signature(st: dict[str, ParagraphStyle], width: float) -> Table:
    table = Table(
        [
            ["", "", ""],
            [
                Paragraph("旅客签名 Traveler's signature", st["label"]),
                "",
                Paragraph("日期 Date", st["label"]),
            ],
        ],
        colWidths=[width * 0.6, width * 0.08, width * 0.32],
        rowHeights=[9 * mm, None],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st["base"].fontName),
                ("LINEBELOW", (0, 0), (0, 0), 0.8, colors.black),
                ("LINEBELOW", (2, 0), (2, 0), 0.8, colors.black),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def receipt_reference(refund: Refund) -> str:
    """The number printed on the receipt and shown in lists: refund date and id."""
    return f"R{refund.refund_date:%Y%m%d}-{refund.pk:06d}"


def receipt_data_for(refund: Refund) -> ReceiptData:
    """The receipt of a paid refund (form, store, agency, port, agent and verification loaded)."""
    form = refund.form
    verification = getattr(form, "verification", None)
    agency = refund.agency
    port = refund.port
    paid_at = refund.paid_at or refund.created_at
    lines: tuple[ReceiptLine, ...] = ()
    if verification is not None:
        lines = tuple(
            ReceiptLine(
                item=row.form_line.item,
                unit=row.form_line.unit,
                quantity=row.form_line.quantity,
                quantity_verified=row.quantity_presented,
                vat_rate=row.form_line.vat_rate,
                verified_total=row.verified_total,
            )
            for row in verification.lines.select_related("form_line").order_by(
                "form_line__position"
            )
        )
    return ReceiptData(
        reference=receipt_reference(refund),
        agency_name=" ".join(part for part in (agency.name, agency.name_en) if part),
        agency_code=agency.code,
        port_code=port.code if port else "",
        port_name=port.name if port else "",
        form_number=form.number,
        traveler_name=form.traveler_name,
        document_type=form.document_type,
        document_masked=form.document_masked,
        nationality=form.nationality,
        store_name=form.store.name,
        store_code=form.store.code,
        purchase_date=form.purchase_date,
        verified_total=refund.verified_total,
        refundable_vat=refund.refundable_vat,
        fee=refund.fee,
        fee_rate=refund.fee_rate,
        net_refund=refund.net_refund,
        payout_method=refund.payout_method,
        payout_account_masked=refund.payout_account_masked,
        paid_at=paid_at,
        agent=refund.agent.get_username(),
        departure_date=verification.departure_date if verification else None,
        lines=lines,
        form_total=form.total,
        estimated_net=form.net_refund,
        estimated_fee_rate=form.fee_rate,
        phone_page_url=_phone_page_url(form),
    )


def _phone_page_url(form: RefundForm) -> str:
    path = traveler_page_path(form)
    return settings.TRAVELER_PAGE_BASE_URL.rstrip("/") + path if path else ""
