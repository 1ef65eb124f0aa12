"""Store counter pages through their URLs (Django test client): access, issue, estimate, void."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator

from core.ledger import record_history
from stores.forms import read_mrz
from stores.models import FormStatus, RefundForm, VatInvoice
from stores.services import business_today
from tests.factories import line, make_form, make_invoice, staff_user, traveler

ISSUE = "/store/forms/new/"
ESTIMATE = "/store/forms/estimate/"


def passport_mrz(
    number: str = "18AB12345", nationality: str = "FRA", surname: str = "Dupont"
) -> str:
    return str(
        TD3CodeGenerator(
            "P",
            nationality,
            surname,
            "Marie Claire",
            number,
            nationality,
            "900101",
            "F",
            "350101",
            "",
        )
    )


def issue_data(lines: list[dict[str, str]] | None = None, **fields: Any) -> dict[str, Any]:
    """A POST body of the issue page: traveler fields, then the lines formset."""
    entry = business_today() - timedelta(days=10)
    data: dict[str, Any] = {
        "name": "DUPONT MARIE CLAIRE",
        "document_type": "passport",
        "document_number": "18AB12345",
        "nationality": "FR",
        "last_entry_date": entry.isoformat(),
        "document_expires_on": "2031-05-01",
        "invoice_numbers": "",
        "token": "",
    }
    data.update(fields)
    rows = (
        lines
        if lines is not None
        else [
            {
                "item": "丝巾 Silk scarf",
                "quantity": "2",
                "unit_price": "1800.00",
                "vat_rate": "0.13",
            }
        ]
    )
    data["lines-TOTAL_FORMS"] = str(len(rows))
    data["lines-INITIAL_FORMS"] = "0"
    data["lines-MIN_NUM_FORMS"] = "0"
    data["lines-MAX_NUM_FORMS"] = "200"
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{index}-{key}"] = value
    return data


@pytest.fixture
def clerk_client(client: Any, demo: Any) -> Any:
    client.force_login(demo.clerk)
    return client


# --- Access ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/store/", ISSUE])
def test_anonymous_is_sent_to_login(client, demo, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["officer", "agent", "admin"])
def test_non_clerks_get_403(client, demo, who):
    client.force_login(getattr(demo, who))
    assert client.get("/store/").status_code == 403
    assert client.get(ISSUE).status_code == 403
    assert client.post(ESTIMATE, issue_data()).status_code == 403
    assert client.post(ISSUE, issue_data()).status_code == 403
    assert RefundForm.objects.count() == 0


def test_other_stores_form_is_404_everywhere(client, demo):
    # Given a form of the Beijing store
    form = make_form(demo.store_bj, demo.clerk2, line(unit_price="600.00"))
    # When the Shanghai clerk asks for it, it does not exist for them
    client.force_login(demo.clerk)
    for suffix in ("", "pdf/", "void/"):
        assert client.get(f"/store/forms/{form.number}/{suffix}").status_code == 404
    assert client.post(f"/store/forms/{form.number}/void/", {"reason": "x"}).status_code == 404
    form.refresh_from_db()
    assert form.status == FormStatus.ISSUED
    # and the find box does not reveal it either
    response = client.get("/store/find/", {"q": form.number}, follow=True)
    assert "No form" in response.content.decode()


# --- Issue page ---------------------------------------------------------------------


def test_issue_page_has_scanner_box_and_lines(clerk_client):
    response = clerk_client.get(ISSUE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="mrz"' in html
    assert 'name="lines-0-unit_price"' in html
    assert "Buy &amp; Refund" in html  # the Shanghai demo store offers it
    assert "stores/issue.js" in html


def test_issue_creates_invoice_and_form_and_shows_it(clerk_client, demo):
    response = clerk_client.post(ISSUE, issue_data(token="t-1"))
    assert response.status_code == 302
    form = RefundForm.objects.get()
    assert response["Location"] == reverse("stores:form-detail", args=[form.number])
    assert form.total == 3600 and str(form.net_refund) == "324.00"
    assert form.invoices.count() == 1
    assert form.invoices.get().buyer_name == "DUPONT MARIE CLAIRE"
    assert [e.action for e in record_history(form)] == ["form_issued"]
    page = clerk_client.get(response["Location"]).content.decode()
    assert form.number in page
    assert "RMB 324.00" in page
    assert "324.00" in page and "Form issued · 申请单已开具" in page
    assert f"/store/forms/{form.number}/pdf/" in page


def test_double_submit_issues_one_form(clerk_client):
    data = issue_data(token="same-token")
    first = clerk_client.post(ISSUE, data)
    second = clerk_client.post(ISSUE, data)
    assert RefundForm.objects.count() == 1
    assert VatInvoice.objects.count() == 1
    assert second.status_code == 302 and second["Location"] == first["Location"]


def test_below_minimum_shows_the_rule_and_writes_nothing(clerk_client):
    data = issue_data(
        [{"item": "明信片 Postcards", "quantity": "3", "unit_price": "50.00", "vat_rate": "0.13"}]
    )
    response = clerk_client.post(ISSUE, data)
    html = response.content.decode()
    assert response.status_code == 422
    assert "Below the RMB 200 minimum" in html
    assert "RMB 150.00" in html
    # The invoice issued in the same step was rolled back with the refused form.
    assert VatInvoice.objects.count() == 0
    assert RefundForm.objects.count() == 0
    # What the clerk typed is still there to fix.
    assert 'value="DUPONT MARIE CLAIRE"' in html
    assert 'value="50.00"' in html


def test_each_rule_is_shown_with_its_message(clerk_client):
    today = business_today()
    cases = [
        (
            issue_data(last_entry_date=(today - timedelta(days=200)).isoformat()),
            "Stay over 183 days",
        ),
        (issue_data(nationality="CN"), "Mainland residents are not eligible"),
        (
            issue_data(
                [{"item": "Book", "quantity": "1", "unit_price": "900", "vat_rate": "0.06"}]
            ),
            "Goods not eligible",
        ),
        (issue_data(document_type="taiwan_permit"), "This travel permit is issued only"),
    ]
    for data, text in cases:
        response = clerk_client.post(ISSUE, data)
        assert response.status_code == 422, text
        assert text in response.content.decode()
    assert VatInvoice.objects.count() == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        # Django's English-only messages are replaced by bilingual ones (core.forms).
        ({"quantity": "0"}, "Must be at least 0.01 · 不得小于 0.01"),
        ({"quantity": "-1"}, "Must be at least 0.01 · 不得小于 0.01"),
        ({"quantity": "NaN"}, "Enter a number, e.g. 1280.50 · 请输入数字"),
        ({"unit_price": "Infinity"}, "Enter a number, e.g. 1280.50 · 请输入数字"),
        ({"unit_price": "12.345"}, "At most 2 decimal places · 最多 2 位小数"),
        ({"unit_price": "1" * 20}, "At most 12 digits in total · 最多 12 位数字"),
        ({"vat_rate": "0.2"}, "Choose one of the options · 请从选项中选择"),
        ({"item": ""}, "This field is required · 此项必填"),
    ],
)
def test_bad_lines_are_refused_with_400(clerk_client, row, message):
    base = {"item": "Scarf", "quantity": "1", "unit_price": "900.00", "vat_rate": "0.13"}
    response = clerk_client.post(ISSUE, issue_data([{**base, **row}]))
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "This field is required." not in page and "Select a valid choice" not in page
    assert VatInvoice.objects.count() == 0


def test_missing_traveler_fields_and_future_entry_are_refused(clerk_client):
    future = (business_today() + timedelta(days=1)).isoformat()
    response = clerk_client.post(
        ISSUE, issue_data(name="", document_number="", last_entry_date=future)
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter the traveler&#x27;s name" in html
    assert "Enter the document number." in html
    assert "cannot be in the future" in html
    assert RefundForm.objects.count() == 0


def test_nothing_to_issue_is_refused(clerk_client):
    response = clerk_client.post(ISSUE, issue_data([]))
    assert response.status_code == 400
    assert "Add at least one goods line" in response.content.decode()


def test_issue_from_existing_invoice_numbers(clerk_client, demo):
    # Given two invoices imported from the e-invoice platform this morning
    first = make_invoice(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    second = make_invoice(demo.store_sh, demo.clerk, line(unit_price="120.00", vat_rate="0.09"))
    data = issue_data([], invoice_numbers=f"{first.number}\n{second.number}")
    response = clerk_client.post(ISSUE, data)
    assert response.status_code == 302
    form = RefundForm.objects.get()
    assert set(form.invoices.values_list("number", flat=True)) == {first.number, second.number}
    assert VatInvoice.objects.count() == 2  # no new invoice
    # 300 x 11% + 120 x 8% = 33.00 + 9.60; fee 2% of 420 = 8.40
    assert str(form.refundable_vat) == "42.60" and str(form.net_refund) == "34.20"


def test_existing_invoice_errors_are_clear(clerk_client, demo):
    used = make_form(demo.store_sh, demo.clerk, line(unit_price="300.00")).invoices.get()
    other = make_invoice(demo.store_bj, demo.clerk2, line(unit_price="300.00"))
    response = clerk_client.post(ISSUE, issue_data([], invoice_numbers=used.number))
    assert response.status_code == 422
    assert "Invoice already used" in response.content.decode()
    response = clerk_client.post(ISSUE, issue_data([], invoice_numbers=other.number))
    assert response.status_code == 422
    assert "not found at this store" in response.content.decode()
    response = clerk_client.post(ISSUE, issue_data([], invoice_numbers="12345"))
    assert response.status_code == 400
    assert "20 digits" in response.content.decode()


def test_scanned_mrz_fills_blank_fields_without_the_script(clerk_client):
    data = issue_data(mrz=passport_mrz(), name="", document_number="", nationality="")
    response = clerk_client.post(ISSUE, data)
    assert response.status_code == 302
    form = RefundForm.objects.get()
    assert form.traveler_name == "DUPONT MARIE CLAIRE"
    assert form.nationality == "FR"
    assert form.document_masked == "1*****345"


# --- Live estimate --------------------------------------------------------------


def test_estimate_3600_at_13_percent_nets_324(clerk_client):
    payload = clerk_client.post(ESTIMATE, issue_data()).json()
    assert payload["eligible"] is True
    assert payload["total"] == "3600.00"
    assert payload["refundable_vat"] == "396.00"
    assert payload["fee"] == "72.00"
    assert payload["fee_rate"] == "2%"
    assert payload["net_refund"] == "324.00"
    assert payload["lines"][0]["total"] == "3600.00"
    assert payload["lines"][0]["refund_rate"] == "11%"
    assert [m["code"] for m in payload["messages"]] == ["eligible"]
    assert RefundForm.objects.count() == 0 and VatInvoice.objects.count() == 0


def test_estimate_says_below_minimum_per_rule(clerk_client):
    data = issue_data(
        [{"item": "Tea", "quantity": "1", "unit_price": "150.00", "vat_rate": "0.09"}]
    )
    payload = clerk_client.post(ESTIMATE, data).json()
    assert payload["eligible"] is False
    below = next(m for m in payload["messages"] if m["code"] == "below_minimum")
    assert below["title"].startswith("Below the RMB 200 minimum")
    assert "RMB 150.00" in below["detail"]


def test_estimate_counts_earlier_forms_of_the_day(clerk_client, demo):
    # Given a 300.00 form issued earlier today for the same passport
    make_form(demo.store_sh, demo.clerk, line(unit_price="300.00"))
    # A 100.00 purchase now is not below the minimum: 400.00 today in all
    data = issue_data(
        [{"item": "Pen", "quantity": "1", "unit_price": "100.00", "vat_rate": "0.13"}],
        document_number=traveler().document_number,
    )
    payload = clerk_client.post(ESTIMATE, data).json()
    assert payload["eligible"] is True
    assert payload["earlier_same_day_total"] == "300.00"
    assert "RMB 400" in payload["messages"][-1]["detail"]


def test_estimate_with_missing_traveler_still_checks_goods(clerk_client):
    data = issue_data(
        [{"item": "Tea", "quantity": "1", "unit_price": "150.00", "vat_rate": "0.13"}],
        name="",
        document_number="",
        nationality="",
        last_entry_date="",
    )
    payload = clerk_client.post(ESTIMATE, data).json()
    codes = [m["code"] for m in payload["messages"]]
    assert "traveler_incomplete" in codes and "below_minimum" in codes
    assert payload["eligible"] is False


def test_estimate_marks_bad_lines(clerk_client):
    data = issue_data(
        [
            {"item": "Scarf", "quantity": "1", "unit_price": "900.00", "vat_rate": "0.13"},
            {"item": "Bag", "quantity": "-2", "unit_price": "100.00", "vat_rate": "0.13"},
        ]
    )
    payload = clerk_client.post(ESTIMATE, data).json()
    assert payload["eligible"] is False
    assert list(payload["line_errors"]) == ["1"]
    assert payload["total"] == "900.00"


# --- MRZ ----------------------------------------------------------------------------


def test_mrz_endpoint_reads_a_passport(clerk_client):
    payload = clerk_client.post("/store/mrz/", {"mrz": passport_mrz() + "\n"}).json()
    assert payload["ok"] is True
    assert payload["name"] == "DUPONT MARIE CLAIRE"
    assert payload["document_number"] == "18AB12345"
    assert payload["nationality"] == "FR"
    assert payload["nationality_label"] == "France 法国"


def test_read_mrz_handles_scanner_quirks_and_bad_scans():
    today = business_today()
    good = passport_mrz(nationality="D", surname="Mueller")
    assert read_mrz(good.replace("\n", ""), today=today).nationality == "DE"  # one line of 88
    assert read_mrz(good.lower(), today=today).ok
    broken = good[:54] + ("1" if good[54] != "1" else "2") + good[55:]
    reading = read_mrz(broken, today=today)
    assert not reading.ok and "check digits" in reading.message
    assert "Only one MRZ line" in read_mrz(good.splitlines()[0], today=today).message
    assert "not a complete MRZ" in read_mrz("P<FRA", today=today).message
    stateless = read_mrz(passport_mrz(nationality="XXA"), today=today)
    assert stateless.ok and stateless.nationality == ""
    assert "choose the nationality" in stateless.warnings[0]
    card = str(
        TD1CodeGenerator(
            "ID", "FRA", "X4RTBPFW4", "900101", "F", "300101", "FRA", "Dupont", "Marie"
        )
    )
    assert "identity card" in read_mrz(card, today=today).message
    expired = str(
        TD3CodeGenerator(
            "P", "FRA", "Dupont", "Marie", "18AB12345", "FRA", "900101", "F", "200101", ""
        )
    )
    reading = read_mrz(expired, today=today)
    assert reading.ok and "expired" in reading.warnings[0]


# --- Lists, detail, void ------------------------------------------------------------


def test_home_lists_todays_forms_with_status(clerk_client, demo):
    kept = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    other_store = make_form(demo.store_bj, demo.clerk2, line(unit_price="500.00"))
    html = clerk_client.get("/store/").content.decode()
    assert kept.number in html
    assert other_store.number not in html
    assert 'class="badge issued"' in html


def test_void_needs_confirmation_and_a_reason(clerk_client, demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    url = f"/store/forms/{form.number}/void/"
    page = clerk_client.get(url)
    assert page.status_code == 200 and "This cannot be undone" in page.content.decode()
    response = clerk_client.post(url, {"reason": "   "})
    assert response.status_code == 400
    assert "Give the reason" in response.content.decode()
    form.refresh_from_db()
    assert form.status == FormStatus.ISSUED


def test_void_reverses_the_invoice_and_shows_history(clerk_client, demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    response = clerk_client.post(f"/store/forms/{form.number}/void/", {"reason": "Goods returned"})
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.status == FormStatus.VOIDED
    red = VatInvoice.objects.get(kind="red")
    html = clerk_client.get(response["Location"]).content.decode()
    assert 'class="badge voided"' in html
    assert red.number in html
    assert "Form voided · 申请单已作废" in html and "Goods returned" in html
    assert "already voided" in html
    assert "void-link" not in html
    # Voiding again is refused with a clear message and changes nothing.
    again = clerk_client.post(f"/store/forms/{form.number}/void/", {"reason": "again"})
    assert again.status_code == 409
    assert "already voided" in again.content.decode()
    assert VatInvoice.objects.filter(kind="red").count() == 1


def test_void_of_a_verified_form_says_why_not(clerk_client, demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    RefundForm.objects.filter(pk=form.pk).update(status=FormStatus.VERIFIED)
    html = clerk_client.get(f"/store/forms/{form.number}/").content.decode()
    assert "Customs has verified this form" in html
    response = clerk_client.post(f"/store/forms/{form.number}/void/", {"reason": "return"})
    assert response.status_code == 409
    assert "can no longer be voided" in response.content.decode()


def test_find_opens_a_form_by_number_or_scanned_qr(clerk_client, demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    by_number = clerk_client.get("/store/find/", {"q": form.number})
    assert by_number["Location"] == f"/store/forms/{form.number}/"
    by_qr = clerk_client.get("/store/find/", {"q": form.qr_payload})
    assert by_qr["Location"] == f"/store/forms/{form.number}/"


def test_pdf_link_serves_a_pdf(clerk_client, demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="500.00"))
    response = clerk_client.get(f"/store/forms/{form.number}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_clerk_of_new_store_sees_empty_day(client, demo):
    clerk = staff_user("clerk", demo.store_bj)
    client.force_login(clerk)
    html = client.get("/store/").content.decode()
    assert "No forms yet today" in html


def test_estimate_names_the_line_without_a_refund_rate(clerk_client):
    data = issue_data(
        [{"item": "画册 Art book", "quantity": "1", "unit_price": "680", "vat_rate": "0.06"}]
    )
    payload = clerk_client.post(ESTIMATE, data).json()
    goods = next(m for m in payload["messages"] if m["code"] == "goods_not_eligible")
    assert goods["detail"] == "画册 Art book: goods at 6% VAT have no refund rate."
    assert payload["lines"][0]["refund_rate"] is None
    assert payload["net_refund"] == "0.00"


def test_read_mrz_recognises_mainland_travel_permits():
    today = business_today()

    def permit(code: str, region: str) -> str:
        return str(
            TD1CodeGenerator(
                code, "CHN", "H12345678", "900101", "M", "350101", region, "Chan", "Tai Man"
            )
        )

    hk = read_mrz(permit("C", "HKG"), today=today)
    assert (hk.ok, hk.document_type, hk.nationality) == (True, "hk_macao_permit", "HK")
    tw = read_mrz(permit("CT", "TWN"), today=today)
    assert (tw.document_type, tw.nationality, tw.name) == ("taiwan_permit", "TW", "CHAN TAI MAN")
    unknown = read_mrz(permit("C", "CHN"), today=today)
    assert unknown.ok and unknown.document_type == "" and "by hand" in unknown.message


def test_tampered_line_counts_are_refused(clerk_client):
    data = issue_data()
    data["lines-TOTAL_FORMS"] = "100000"
    response = clerk_client.post(ISSUE, data)
    assert response.status_code == 400
    assert "Please submit at most 200 forms" in response.content.decode()
    no_management = {k: v for k, v in issue_data().items() if "_FORMS" not in k}
    assert clerk_client.post(ISSUE, no_management).status_code == 400
    payload = clerk_client.post(ESTIMATE, no_management).json()
    assert payload["lines"] == [] and payload["eligible"] is False
    assert RefundForm.objects.count() == 0
