"""The printed form: content, embedded CJK font, and the QR code as printed."""

# poppler-utils run on PDFs these tests make; the multiplication sign in sizes is meant.
# ruff: noqa: S603, RUF001

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from core.signing import parse_form_qr
from stores.pdf import PAGE_HEIGHT, QR_BORDER, QR_BOX, form_pdf, qr_symbol
from tests.browser import ARTIFACTS
from tests.factories import line, make_form, make_invoice, traveler


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: scripts/setup --dev installs poppler-utils")
    return path


def pdf_text(data: bytes, mode: str = "-layout") -> str:
    """The text a reader extracts (poppler's pdftotext, through the ToUnicode maps)."""
    result = subprocess.run(
        [_tool("pdftotext"), mode, "-", "-"], input=data, capture_output=True, check=True
    )
    return result.stdout.decode()


def pdf_pages(data: bytes) -> int:
    result = subprocess.run([_tool("pdfinfo"), "-"], input=data, capture_output=True, check=True)
    for row in result.stdout.decode().splitlines():
        if row.startswith("Pages:"):
            return int(row.split()[1])
    raise AssertionError("no page count")


def render_qr_area(data: bytes, dpi: int, tmp_path: Path) -> Image.Image:
    """Page 1 rasterised by pdftoppm, cropped to the QR box, in grey levels."""
    source = tmp_path / "form.pdf"
    source.write_bytes(data)
    x, y, size = QR_BOX
    scale = dpi / 72
    left, top = round(x * scale), round((PAGE_HEIGHT - y - size) * scale)
    width = height = round(size * scale)
    subprocess.run(
        [_tool("pdftoppm"), "-png", "-gray", "-r", str(dpi), "-f", "1", "-l", "1",
         "-x", str(left), "-y", str(top), "-W", str(width), "-H", str(height),
         str(source), str(tmp_path / "qr")],
        check=True,
    )  # fmt: skip
    (png,) = tmp_path.glob("qr*.png")
    return Image.open(io.BytesIO(png.read_bytes())).convert("L")


@pytest.fixture
def form(demo):
    return make_form(
        demo.store_sh,
        demo.clerk,
        line("丝巾 Silk scarf", "2", "1500.00", spec="90×90cm 真丝", unit="条"),
        line("龙井茶 Longjing tea", "3", "200.00", vat_rate="0.09", unit="盒"),
        who=traveler(name="DUPONT MARIE", document_number="18AB12345"),
    )


def test_pdf_has_the_form_text_in_both_languages(form):
    data = form_pdf(form)
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    invoice = form.invoices.get()
    for expected in [
        form.number,
        "离境退税申请单",
        "Application Form for Departure Tax Refund",
        form.store.name,
        form.store.taxpayer_id,
        "南京东路",  # store address
        "clerk",
        "DUPONT MARIE",
        "法国 France (FR)",
        "护照",
        "Passport",
        "1*****345",  # masked document number
        form.last_entry_date.isoformat(),
        invoice.number,
        invoice.issued_on.isoformat(),
        "丝巾 Silk scarf",
        "90×90cm 真丝",
        "3,000.00",
        "13%",
        "11%",
        "9%",
        "8%",
        "RMB 3,600.00",  # total
        "叁仟陆佰圆整",  # total in words
        "378.00",  # refundable: 3000 x 11% + 600 x 8%
        "72.00",  # fee 2%
        "RMB 306.00",  # net
        "90日内离境",
        "within 90 days of the purchase date",
        "show the goods, this form and your passport",
    ]:
        assert expected in text, expected
    # The full document number never appears in print.
    assert "18AB12345" not in text
    # An ordinary form carries no Buy & Refund mark.
    assert "即买即退" not in text
    assert pdf_pages(data) == 1


def test_pdf_embeds_the_cjk_font(form):
    data = form_pdf(form)
    assert b"/FontFile2" in data  # an embedded TrueType font program
    assert b"WenQuanYiZenHei" in data
    assert b"/Helvetica" not in data  # nothing falls back to a non-embedded font


def test_buy_and_refund_form_carries_the_mark_and_deadline(demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="900.00"), buy_and_refund=True)
    text = pdf_text(form_pdf(form))
    assert "即买即退" in text and "BUY & REFUND" in text
    # Bought today (after 2026-07-01): the nationwide 28 days supersede Shanghai's 17.
    assert f"leave by {(form.purchase_date + timedelta(days=28)).isoformat()}" in text


def test_printed_qr_is_the_signed_payload(form, tmp_path):
    # The payload is the form's signed one, encoded as the spec says.
    parsed = parse_form_qr(form.qr_payload)
    assert parsed.number == form.number and parsed.signature_valid
    symbol = qr_symbol(form.qr_payload)
    assert symbol.mode == "alphanumeric"
    assert symbol.error == "M"
    # What is printed is exactly that symbol: sample every module on the page.
    matrix = symbol.matrix
    count = len(matrix) + 2 * QR_BORDER
    image = render_qr_area(form_pdf(form), dpi=300, tmp_path=tmp_path)
    module = image.width / count

    def grey(x: float, y: float) -> int:
        value = image.getpixel((int(x), int(y)))
        assert isinstance(value, int)
        return value

    def dark(row: int, col: int) -> bool:
        return grey((col + QR_BORDER + 0.5) * module, (row + QR_BORDER + 0.5) * module) < 128

    size = len(matrix)
    printed = [[dark(row, col) for col in range(size)] for row in range(size)]
    assert printed == [[bool(cell) for cell in row] for row in matrix]
    # with a white quiet zone around it
    quiet = [grey(module * 1.5, i * module + module / 2) for i in range(count)]
    assert min(quiet) > 200


def test_long_forms_flow_onto_more_pages(demo):
    lines = [
        line(f"商品 Item {i} with a long description", "1", "100.00", spec=f"SKU-{i:04d}")
        for i in range(60)
    ]
    form = make_form(demo.store_sh, demo.clerk, *lines)
    data = form_pdf(form)
    text = pdf_text(data)
    assert pdf_pages(data) >= 3
    assert "SKU-0000" in text and "SKU-0059" in text
    assert "续 continued" in text
    assert f"RMB {Decimal('6000'):,.2f}" in text


def test_form_with_several_invoices_lists_each(demo):
    first = make_invoice(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    second = make_invoice(demo.store_sh, demo.clerk, line("Tea", unit_price="200.00"))
    from stores.services import refund_form_issue

    form = refund_form_issue(
        store=demo.store_sh,
        clerk=demo.clerk,
        traveler=traveler(),
        invoice_numbers=[first.number, second.number],
    )
    text = pdf_text(form_pdf(form))
    assert first.number in text and second.number in text


def test_voided_form_prints_with_a_void_stamp(demo):
    from stores.services import refund_form_void

    form = make_form(demo.store_sh, demo.clerk, line(unit_price="900.00"))
    assert "VOID" not in pdf_text(form_pdf(form), "-raw")
    refund_form_void(form=form, clerk=demo.clerk, reason="Goods returned")
    form.refresh_from_db()
    data = form_pdf(form)
    # The diagonal stamp: poppler extracts its Latin part from rotated text.
    assert "VOID" in pdf_text(data, "-raw")


def test_cjk_units_stay_inside_the_quantity_column(demo):
    # Given long quantities with CJK units
    from reportlab.platypus import Paragraph

    from core.pdf import cjk_font
    from stores.pdf import _goods_table, _Styles, printed_lines

    form = make_form(
        demo.store_sh,
        demo.clerk,
        line("龙井茶 Longjing tea", "1234.25", "100.00", vat_rate="0.09", unit="千克"),
        line("运动鞋 Sneakers", "12", "890.00", unit="双"),
    )
    table = _goods_table(printed_lines(form), _Styles(cjk_font()))
    width = table._colWidths[3] - 12  # ReportLab's default cell padding: 6 pt each side
    cells = [row[3] for row in table._cellvalues[1:] if isinstance(row[3], Paragraph)]
    # Then every quantity cell wraps within its column: nothing is drawn past its edge
    assert len(cells) == 2
    for cell in cells:
        cell.wrap(width, 1000)
        assert max(cell.getActualLineWidths0()) <= width + 0.01
    text = pdf_text(form_pdf(form), mode="-raw")
    assert "千克" in text and "12 双" in text


def test_buy_and_refund_form_prints_its_own_instructions(demo, tmp_path):
    # Issue 10 item 8: no "90 days" and no "go to the refund agency" on a prepaid form.
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="900.00"), buy_and_refund=True)
    data = form_pdf(form)
    text = " ".join(pdf_text(data).split())
    deadline = (form.purchase_date + timedelta(days=28)).isoformat()
    assert "90 days" not in text and "90日" not in text
    assert "refund agency counter" not in text
    assert "到口岸隔离区内的退税代理机构办理退税" not in text
    assert "amounts on this form are an estimate" not in text
    assert pdf_pages(data) == 1
    for expected in [
        f"Leave China by {deadline} (28 days from purchase) through any Buy & Refund port,"
        " in any city.",
        "经任一即买即退口岸离境，不限城市",
        "show the goods, this form and your passport",
        "no agency counter to visit",
        "releases the hold on your card",
        "the prepayment is charged to your card",
    ]:
        assert expected in text, expected
    # the ordinary form keeps the standard instructions
    plain = make_form(demo.store_sh, demo.clerk, line(unit_price="900.00"), who=traveler())
    plain_text = " ".join(pdf_text(form_pdf(plain)).split())
    assert "within 90 days of the purchase date" in plain_text
    assert "refund agency counter" in plain_text
    # rendered as a person sees it
    source = tmp_path / "bnr.pdf"
    source.write_bytes(data)
    subprocess.run([_tool("pdftoppm"), "-png", "-r", "80", "-f", "1", "-l", "1", str(source),
                    str(ARTIFACTS / "form-buy-and-refund")], check=True)  # fmt: skip
