"""The printed Refund Application Form (离境退税申请单): a bilingual A4 PDF.

ReportLab with the embedded CJK font from ``core.pdf.cjk_font()``. The first page
carries a fixed header (title, form number, issue time, the Buy & Refund mark)
and the signed QR code at a fixed place (``QR_BOX``), so customs and agency
scanners find it where they expect; goods tables longer than a page flow on.
"""

# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import segno
from django.conf import settings
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import FILL_NON_ZERO, Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from core import rules
from core.money import amount_in_words, quantize_money
from core.pdf import FONT_NAME, cjk_font
from core.selectors import buy_and_refund_days
from stores.countries import country_names
from stores.models import FormStatus, RefundForm, RefundFormLine
from stores.selectors import traveler_page_path

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
HEADER_HEIGHT = 47 * mm
QR_SIZE = 40 * mm  # the whole symbol, quiet zone included
QR_BORDER = 4  # modules of quiet zone, as ISO/IEC 18004 asks
# (x, y, size) of the QR symbol on page 1 in PDF points, quiet zone included.
QR_BOX = (PAGE_WIDTH - MARGIN - QR_SIZE, PAGE_HEIGHT - MARGIN - QR_SIZE, QR_SIZE)

INK = colors.HexColor("#1d2433")
MUTED = colors.HexColor("#5b6475")
RULE = colors.HexColor("#c9ced8")
SHADE = colors.HexColor("#f1f3f7")
RED = colors.HexColor("#b3261e")

DOCUMENT_TYPES = {
    "passport": ("护照", "Passport"),
    "hk_macao_permit": ("港澳居民来往内地通行证", "Mainland Travel Permit for HK/Macao Residents"),
    "taiwan_permit": ("台湾居民来往大陆通行证", "Mainland Travel Permit for Taiwan Residents"),
}

INSTRUCTIONS = [
    (
        "请自购物之日起90日内离境。",
        "Leave China within 90 days of the purchase date.",
    ),
    (
        "离境时，请在办理值机（托运）手续前，向海关出示退税物品、本申请单及护照（通行证），"
        "经海关验核签章。",
        "Before check-in, show the goods, this form and your passport (permit) to customs"
        " at the departure port to have the form verified and stamped.",
    ),
    (
        "凭海关验核签章的申请单，到口岸隔离区内的退税代理机构办理退税。",
        "Then take the stamped form to the refund agency counter in the departure area.",
    ),
    (
        "本单所列退税额为预估，以代理机构实际办理为准。",
        "The amounts on this form are an estimate; the refund agency pays the final amount.",
    ),
]


def buy_and_refund_instructions(days: int | None, deadline: date | None) -> list[tuple[str, str]]:
    """A Buy & Refund form's instructions: the refund was paid at the store (SPEC §2 B&R)."""
    if days and deadline:
        zh_when = f"请于{deadline.isoformat()}前（购物后{days}日内）"
        en_when = f"Leave China by {deadline.isoformat()} ({days} days from purchase)"
    else:
        zh_when, en_when = "请在规定期限内", "Leave China within the Buy & Refund deadline"
    return [
        (
            f"{zh_when}经任一即买即退口岸离境，不限城市。",
            f"{en_when} through any Buy & Refund port, in any city.",
        ),
        INSTRUCTIONS[1],
        (
            "退税款已在商店预付，无需前往退税代理机构；海关验核后即解除信用卡预授权。",
            "The refund was paid at the store: no agency counter to visit. Customs"
            " verification releases the hold on your card.",
        ),
        (
            "逾期未离境或未经验核，将从信用卡扣回预付款；部分验核的，扣回差额。",
            "Not verified in time: the prepayment is charged to your card (verified in part:"
            " the difference).",
        ),
    ]


@dataclass(frozen=True)
class PrintedLine:
    """A goods line with the invoice it came from."""

    position: int
    invoice_number: str
    invoice_date: date
    item: str
    spec: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal
    vat_rate: Decimal
    refund_rate: Decimal


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _money(value: Decimal) -> str:
    return f"{quantize_money(value):,.2f}"


class _Styles:
    def __init__(self, font: str) -> None:
        base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11, textColor=INK)
        self.cell = ParagraphStyle("cell", parent=base, wordWrap="CJK")
        # Quantities with CJK units (2 千克, 3 双) wrap inside their column, never past it.
        self.qty = ParagraphStyle("qty", parent=self.cell, alignment=TA_RIGHT)
        self.label = ParagraphStyle("label", parent=base, fontSize=7, leading=9, textColor=MUTED)
        self.value = ParagraphStyle("value", parent=base, fontSize=9.5, leading=12.5)
        self.section = ParagraphStyle(
            "section", parent=base, fontSize=10.5, leading=14, spaceBefore=4, spaceAfter=3
        )
        self.small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=10)
        self.note = ParagraphStyle("note", parent=base, fontSize=8.5, leading=11.5, wordWrap="CJK")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def printed_lines(form: RefundForm) -> list[PrintedLine]:
    """The form's lines with their invoice numbers and dates, in print order."""
    rows = (
        RefundFormLine.objects.filter(form=form)
        .select_related("invoice_line__invoice")
        .order_by("position")
    )
    return [
        PrintedLine(
            position=row.position,
            invoice_number=row.invoice_line.invoice.number,
            invoice_date=row.invoice_line.invoice.issued_on,
            item=row.item,
            spec=row.spec,
            unit=row.unit,
            quantity=row.quantity,
            unit_price=row.unit_price,
            total=row.total,
            vat_rate=row.vat_rate,
            refund_rate=row.refund_rate,
        )
        for row in rows
    ]


def qr_symbol(payload: str) -> Any:
    """The form's QR code: alphanumeric mode, error correction M exactly (not boosted)."""
    return segno.make_qr(payload, mode="alphanumeric", error="m", boost_error=False)


def _dark_runs(cells: Sequence[int | bool]) -> list[tuple[int, int]]:
    """(start, stop) of each run of dark cells."""
    runs = []
    start = None
    for index, dark in enumerate(cells):
        if dark and start is None:
            start = index
        elif not dark and start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(cells)))
    return runs


def _draw_qr(
    canvas: Canvas, payload: str, x: float, y: float, size: float, symbol: Any = None
) -> None:
    """Draw the symbol as vector squares, quiet zone included, in a size x size box."""
    matrix = (symbol or qr_symbol(payload)).matrix
    count = len(matrix) + 2 * QR_BORDER
    module = size / count
    canvas.saveState()
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    path = canvas.beginPath()
    # Horizontal runs and vertical runs of dark modules, overlapping: every
    # shared edge is inside some rectangle, so no anti-aliasing seams show.
    size_n = len(matrix)
    for index in range(size_n):
        for start, stop in _dark_runs([matrix[index][j] for j in range(size_n)]):
            path.rect(
                x + (start + QR_BORDER) * module,
                y + size - (index + QR_BORDER + 1) * module,
                (stop - start) * module,
                module,
            )
        for start, stop in _dark_runs([matrix[i][index] for i in range(size_n)]):
            if stop - start > 1:
                path.rect(
                    x + (index + QR_BORDER) * module,
                    y + size - (stop + QR_BORDER) * module,
                    module,
                    (stop - start) * module,
                )
    canvas.drawPath(path, stroke=0, fill=1, fillMode=FILL_NON_ZERO)
    canvas.restoreState()


PHONE_QR_SIZE = 22 * mm


class PhoneQr(Flowable):
    """The second QR: the traveler's phone page (a URL with an unguessable token)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.width = self.height = PHONE_QR_SIZE

    def draw(self) -> None:
        symbol = segno.make_qr(self.url, error="m", boost_error=False)
        _draw_qr(self.canv, self.url, 0, 0, PHONE_QR_SIZE, symbol=symbol)


class _FormDoc(BaseDocTemplate):
    def __init__(self, buffer: io.BytesIO, form: RefundForm, font: str) -> None:
        super().__init__(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN,
            title=f"离境退税申请单 Refund Application Form {form.number}",
            author=form.store.name,
            subject=f"Form {form.number}",
            creator="Departure VAT refund platform",
            initialFontName=font,
        )
        self.form = form
        self.font = font
        footer_room = 10 * mm
        first = Frame(
            MARGIN,
            MARGIN + footer_room,
            CONTENT_WIDTH,
            PAGE_HEIGHT - 2 * MARGIN - HEADER_HEIGHT - footer_room,
            id="first",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        later = Frame(
            MARGIN,
            MARGIN + footer_room,
            CONTENT_WIDTH,
            PAGE_HEIGHT - 2 * MARGIN - 14 * mm - footer_room,
            id="later",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates(
            [
                PageTemplate(
                    id="first", frames=[first], onPage=self._first_page, onPageEnd=self._stamp
                ),
                PageTemplate(
                    id="later", frames=[later], onPage=self._later_page, onPageEnd=self._stamp
                ),
            ]
        )

    # --- page furniture ----------------------------------------------------------

    def _stamp(self, canvas: Canvas, doc: Any) -> None:
        """Across every page of a voided form, so a reprint can never pass for a live one."""
        if self.form.status != FormStatus.VOIDED:
            return
        canvas.saveState()
        canvas.setFillColor(RED)
        canvas.setFillAlpha(0.22)
        canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
        canvas.rotate(35)
        canvas.setFont(self.font, 110)
        canvas.drawCentredString(0, 10, "已作废")
        canvas.setFont(self.font, 64)
        canvas.drawCentredString(0, -70, "VOID")
        canvas.restoreState()

    def _footer(self, canvas: Canvas) -> None:
        canvas.setFont(self.font, 7)
        canvas.setFillColor(MUTED)
        canvas.setStrokeColor(RULE)
        canvas.line(MARGIN, MARGIN + 6 * mm, PAGE_WIDTH - MARGIN, MARGIN + 6 * mm)
        canvas.drawString(
            MARGIN,
            MARGIN + 2 * mm,
            "本单二维码经电子签名，可供海关及退税代理机构验真 · "
            "The QR code is digitally signed for customs and the refund agency.",
        )
        canvas.drawRightString(
            PAGE_WIDTH - MARGIN,
            MARGIN + 2 * mm,
            f"{self.form.number} · 第{canvas.getPageNumber()}页 Page {canvas.getPageNumber()}",
        )

    def _first_page(self, canvas: Canvas, doc: Any) -> None:
        form = self.form
        canvas.saveState()
        top = PAGE_HEIGHT - MARGIN
        canvas.setFillColor(INK)
        canvas.setFont(self.font, 20)
        canvas.drawString(MARGIN, top - 18, "离境退税申请单")
        canvas.setFont(self.font, 11.5)
        canvas.drawString(MARGIN, top - 34, "Application Form for Departure Tax Refund")

        canvas.setFont(self.font, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, top - 54, "单号 FORM NO.")
        canvas.setFillColor(INK)
        canvas.setFont(self.font, 17)
        canvas.drawString(MARGIN, top - 73, form.number)

        issued = timezone.localtime(form.issued_at)
        canvas.setFont(self.font, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, top - 88, "开单时间 ISSUED")
        canvas.setFillColor(INK)
        canvas.setFont(self.font, 10)
        canvas.drawString(MARGIN, top - 101, f"{issued:%Y-%m-%d %H:%M} (北京时间 Beijing time)")

        if form.buy_and_refund:
            self._buy_and_refund_mark(canvas, MARGIN + 95 * mm, top - 44)

        x, y, size = QR_BOX
        _draw_qr(canvas, form.qr_payload, x, y, size)
        canvas.setFont(self.font, 8)
        canvas.setFillColor(INK)
        canvas.drawCentredString(x + size / 2, y - 9, form.number)
        self._phone_qr(canvas, x, top)
        canvas.setStrokeColor(RULE)
        canvas.line(
            MARGIN,
            top - HEADER_HEIGHT + 1.5 * mm,
            PAGE_WIDTH - MARGIN,
            top - HEADER_HEIGHT + 1.5 * mm,
        )
        self._footer(canvas)
        canvas.restoreState()

    def _phone_qr(self, canvas: Canvas, qr_x: float, top: float) -> None:
        """The second, smaller QR left of the form's: the traveler's phone page."""
        path = traveler_page_path(self.form)
        if not path:
            return
        url = settings.TRAVELER_PAGE_BASE_URL.rstrip("/") + path
        size = PHONE_QR_SIZE
        x, y = qr_x - size - 3 * mm, top - HEADER_HEIGHT + 3 * mm
        _draw_qr(canvas, url, x, y, size, symbol=segno.make_qr(url, error="m"))
        canvas.setFont(self.font, 6.5)
        canvas.setFillColor(MUTED)
        for index, text in enumerate(("手机查看退税进度", "Your phone page:", "status, notices")):
            canvas.drawRightString(x - 1 * mm, y + size - 8 - index * 8, text)

    def _buy_and_refund_mark(self, canvas: Canvas, x: float, y: float) -> None:
        """A red stamp-like box: this form was paid out in advance at the store."""
        width, height = 42 * mm, 15 * mm
        canvas.saveState()
        canvas.setStrokeColor(RED)
        canvas.setFillColor(RED)
        canvas.setLineWidth(1.6)
        canvas.roundRect(x, y, width, height, 2.5 * mm, stroke=1, fill=0)
        canvas.setFont(self.font, 14)
        canvas.drawCentredString(x + width / 2, y + height - 17, "即买即退")
        canvas.setFont(self.font, 8.5)
        canvas.drawCentredString(x + width / 2, y + 5, "BUY & REFUND")
        canvas.restoreState()

    def _later_page(self, canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(self.font, 10)
        canvas.setFillColor(INK)
        canvas.drawString(
            MARGIN,
            PAGE_HEIGHT - MARGIN - 10,
            f"离境退税申请单 Refund Application Form  {self.form.number}（续 continued）",
        )
        canvas.setStrokeColor(RULE)
        canvas.line(
            MARGIN, PAGE_HEIGHT - MARGIN - 16, PAGE_WIDTH - MARGIN, PAGE_HEIGHT - MARGIN - 16
        )
        self._footer(canvas)
        canvas.restoreState()


def _party_table(form: RefundForm, styles: _Styles) -> Table:
    store = form.store
    names = country_names(form.nationality)
    nationality = f"{names[1]} {names[0]} ({form.nationality})" if names else form.nationality
    doc_zh, doc_en = DOCUMENT_TYPES.get(form.document_type, (form.document_type, ""))
    clerk = form.issued_by
    clerk_name = clerk.get_full_name() or clerk.get_username()
    store_name = _esc(store.name)
    # Most store names are registered bilingual already; add the English one if not.
    if store.name_en and not any("a" <= c.lower() <= "z" for c in store.name):
        store_name += f"<br/>{_esc(store.name_en)}"

    def pair(zh: str, en: str, value: str) -> list[Paragraph]:
        return [
            Paragraph(f"{zh}<br/>{en}", styles.label),
            Paragraph(value, styles.value),
        ]

    left = [
        pair("商店名称", "Store", store_name),
        pair("纳税人识别号", "Taxpayer ID", _esc(store.taxpayer_id)),
        pair("商店地址", "Address", _esc(store.address or store.city)),
        pair("经办人", "Clerk", _esc(clerk_name)),
    ]
    right = [
        pair("旅客姓名", "Traveler", _esc(form.traveler_name)),
        pair("国籍（地区）", "Nationality", _esc(nationality)),
        pair("证件类型", "Document", f"{doc_zh}<br/>{doc_en}"),
        pair("证件号码", "Document no.", _esc(form.document_masked)),
        pair("最后入境日期", "Last entry", form.last_entry_date.isoformat()),
    ]
    while len(left) < len(right):
        left.append([Paragraph("", styles.label), Paragraph("", styles.value)])
    data: list[list[Any]] = [
        [
            Paragraph("商店信息 Store", styles.section),
            "",
            Paragraph("旅客信息 Traveler", styles.section),
            "",
        ]
    ]
    data += [lrow + rrow for lrow, rrow in zip(left, right, strict=True)]
    label_w = 24 * mm
    half = CONTENT_WIDTH / 2
    table = Table(
        data,
        colWidths=[label_w, half - label_w - 4 * mm, label_w + 4 * mm, half - label_w - 4 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("SPAN", (0, 0), (1, 0)),
                ("SPAN", (2, 0), (3, 0)),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, INK),
                ("LINEBEFORE", (2, 1), (2, -1), 0.5, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _goods_table(lines: Sequence[PrintedLine], styles: _Styles) -> Table:
    head = [
        ("序号", "No."),
        ("货物名称", "Item"),
        ("规格型号", "Spec / model"),
        ("数量", "Qty"),
        ("含税金额", "Amount incl. VAT"),
        ("税率", "VAT rate"),
        ("退税率", "Refund rate"),
    ]
    data: list[list[Any]] = [[Paragraph(f"{zh}<br/>{en}", styles.label) for zh, en in head]]
    style: list[Any] = [
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, INK),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
        ("FONT", (0, 1), (-1, -1), styles.cell.fontName, 8.5),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    current = None
    for line in lines:
        if line.invoice_number != current:
            current = line.invoice_number
            invoice_total = sum((x.total for x in lines if x.invoice_number == current), Decimal(0))
            row = len(data)
            data.append(
                [
                    Paragraph(
                        f"发票号码 Invoice no. <font size=9.5>{current}</font>"
                        f"　　开票日期 Date {line.invoice_date.isoformat()}"
                        f"　　发票金额 Invoice total {_money(invoice_total)}",
                        styles.small,
                    ),
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
            style += [
                ("SPAN", (0, row), (-1, row)),
                ("BACKGROUND", (0, row), (-1, row), colors.HexColor("#f8f9fb")),
                ("LINEABOVE", (0, row), (-1, row), 0.4, RULE),
            ]
        row = len(data)
        data.append(
            [
                str(line.position),
                Paragraph(_esc(line.item), styles.cell),
                Paragraph(_esc(line.spec or "—"), styles.cell),
                Paragraph(_esc(f"{_qty(line.quantity)} {line.unit}".strip()), styles.qty),
                _money(line.total),
                _pct(line.vat_rate),
                _pct(line.refund_rate),
            ]
        )
        style.append(("LINEBELOW", (0, row), (-1, row), 0.25, RULE))
    widths = [12 * mm, 58 * mm, 32 * mm, 24 * mm, 28 * mm, 13 * mm, 13 * mm]
    scale = CONTENT_WIDTH / sum(widths)
    table = Table(data, colWidths=[w * scale for w in widths], repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT_NAME), *style]))
    return table


def _totals_table(form: RefundForm, lines: Sequence[PrintedLine], styles: _Styles) -> Table:
    value = ParagraphStyle("tv", parent=styles.value, alignment=2)
    big = ParagraphStyle("big", parent=value, fontSize=14, leading=18)

    def label(zh: str, en: str) -> Paragraph:
        return Paragraph(f"{zh} <font color='#5b6475'>{en}</font>", styles.value)

    rows: list[list[Any]] = [
        [
            Paragraph(
                "含税总额 <font color='#5b6475'>Total incl. VAT</font>　　"
                "<font color='#5b6475' size=7.5>大写 In words</font> "
                + amount_in_words(form.total),
                styles.value,
            ),
            Paragraph(f"RMB {_money(form.total)}", value),
        ],
        [label("应退增值税额", "Refundable VAT"), Paragraph(_money(form.refundable_vat), value)],
        [
            label("代理服务费", f"Agency fee ({_pct(form.fee_rate)})"),
            Paragraph(f"− {_money(form.fee)}", value),
        ],
        [
            label("预计实退金额", "Estimated net refund"),
            Paragraph(f"RMB {_money(form.net_refund)}", big),
        ],
    ]
    groups = _rate_groups(form, lines)
    if len(groups) > 1:
        detail = "；".join(
            f"{_pct(g.vat_rate)} → {_pct(g.refund_rate)}: {_money(g.total)} × {_pct(g.refund_rate)}"
            f" = {_money(g.refundable)}"
            for g in groups
        )
        rows.insert(
            2,
            [Paragraph(f"<font color='#5b6475'>按税率 By rate</font>　{detail}", styles.small), ""],
        )
    table = Table(rows, colWidths=[CONTENT_WIDTH - 45 * mm, 45 * mm], hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                *([("SPAN", (0, 2), (1, 2))] if len(groups) > 1 else []),
                ("LINEABOVE", (0, 0), (-1, 0), 0.6, INK),
                ("LINEABOVE", (0, -1), (-1, -1), 0.6, INK),
                ("BACKGROUND", (0, -1), (-1, -1), SHADE),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _rate_groups(form: RefundForm, lines: Sequence[PrintedLine]) -> tuple[rules.RateGroup, ...]:
    """The per-rate computation (FAQ Q36) with the refund rates printed on the lines."""
    if not lines:
        return ()
    policy = rules.Policy(
        effective_from=form.purchase_date,
        minimum_amount=Decimal(0),
        cash_cap=Decimal(0),
        refund_rates={line.vat_rate.normalize(): line.refund_rate for line in lines},
    )
    computation = rules.compute_refund(
        (rules.LineFacts(vat_rate=line.vat_rate, total=line.total) for line in lines),
        policy=policy,
        fee_rate=form.fee_rate,
    )
    return computation.groups


def _buy_and_refund_note(form: RefundForm, styles: _Styles) -> Table:
    days = buy_and_refund_days(region_code=form.store.region_code, day=form.purchase_date)
    if days:
        deadline = form.purchase_date + timedelta(days=days)
        zh_when, en_when = f"{deadline.isoformat()}前", f"by {deadline.isoformat()}"
    else:
        zh_when, en_when = "在规定期限内", "within the deadline"
    text = (
        f"<font color='#b3261e'>即买即退 Buy &amp; Refund</font>　"
        f"退税款已在商店预付，以您本人信用卡预授权担保；请{zh_when}离境并经海关验核。<br/>"
        f"The refund was paid in advance at the store, guaranteed by a hold on your credit"
        f" card: leave {en_when} and have customs verify this form."
    )
    table = Table([[Paragraph(text, styles.note)]], colWidths=[CONTENT_WIDTH])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME),
                ("BOX", (0, 0), (-1, -1), 1.2, RED),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return table


def form_instructions(form: RefundForm) -> list[tuple[str, str]]:
    """The instructions that apply to the form's kind (standard or Buy & Refund)."""
    if not form.buy_and_refund:
        return INSTRUCTIONS
    days = buy_and_refund_days(region_code=form.store.region_code, day=form.purchase_date)
    deadline = form.purchase_date + timedelta(days=days) if days else None
    return buy_and_refund_instructions(days, deadline)


def _closing_block(styles: _Styles, instructions_text: list[tuple[str, str]]) -> Table:
    """Traveler's instructions beside the signature and customs stamp boxes."""
    left_width = CONTENT_WIDTH * 0.62
    right_width = CONTENT_WIDTH - left_width - 4 * mm
    items: list[list[Any]] = [[Paragraph("旅客须知 Instructions for the traveler", styles.section)]]
    items += [
        [Paragraph(f"{index}. {zh}<br/><font color='#5b6475'>{en}</font>", styles.note)]
        for index, (zh, en) in enumerate(instructions_text, start=1)
    ]
    instructions = Table(items, colWidths=[left_width])
    instructions.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME),
                ("BACKGROUND", (0, 0), (-1, -1), SHADE),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    boxes = Table(
        [
            [Paragraph("旅客签名 Traveler's signature", styles.label)],
            [""],
            [Paragraph("商店盖章 Store seal", styles.label)],
            [""],
            [Paragraph("海关验核签章 Customs verification", styles.label)],
            [""],
        ],
        colWidths=[right_width],
        rowHeights=[None, 10 * mm, None, 10 * mm, None, 15 * mm],
    )
    boxes.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME),
                ("BOX", (0, 0), (-1, -1), 0.5, RULE),
                ("LINEABOVE", (0, 2), (-1, 2), 0.5, RULE),
                ("LINEABOVE", (0, 4), (-1, 4), 0.5, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    outer = Table([[instructions, boxes]], colWidths=[left_width + 4 * mm, right_width])
    outer.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return outer


def form_pdf(form: RefundForm) -> bytes:
    """The printed form as PDF bytes (A4, bilingual, signed QR at ``QR_BOX`` on page 1)."""
    font = cjk_font()
    styles = _Styles(font)
    lines = printed_lines(form)
    buffer = io.BytesIO()
    doc = _FormDoc(buffer, form, font)
    story: list[Any] = [
        NextPageTemplate("later"),
        _party_table(form, styles),
        Spacer(1, 3 * mm),
        Paragraph("退税物品 Goods", styles.section),
        _goods_table(lines, styles),
        Spacer(1, 3 * mm),
        KeepTogether(_totals_table(form, lines, styles)),
        Spacer(1, 4 * mm),
    ]
    if form.buy_and_refund:
        story += [KeepTogether(_buy_and_refund_note(form, styles)), Spacer(1, 3 * mm)]
    story.append(KeepTogether(_closing_block(styles, form_instructions(form))))
    doc.build(story)
    return buffer.getvalue()
