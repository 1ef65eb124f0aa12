"""Every page a person uses, as data, for the accessibility browser suite.

To add a page, add a ``PageSpec`` to ``PAGES``:

- ``path``: the address, with ``{name}`` placeholders filled from the ``Scenario``
  (``{issued}``, ``{invoice}``, ...: add a cached property to ``Scenario`` when a page
  needs a record that is not there yet);
- ``user``: the demo user to log in as (``None``: anonymous);
- ``languages``: ``("en",)`` for the zh/en bilingual staff pages; pages with a
  language switch list theirs (``lang`` is passed as ``?lang=``);
- ``reach``: optional steps run after loading ``path`` (scan a QR, look a form up...)
  that bring the page to the state to check;
- ``status``: the HTTP status the first load answers (404 for the error page);
- ``widths``: both by default; ``("360",)`` for extra languages checked on a phone only;
- ``axe``: False for those extra languages (the same markup as English: only their
  longer words can break the layout, which the overflow check catches).

Each page is checked at desktop width and at 360 px, with axe-core against WCAG
2.0-2.2 A/AA (any violation fails) and for horizontal overflow at 360 px.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.utils import timezone

from kiosk.i18n import LANGUAGES as KIOSK_LANGUAGES
from stores.models import RefundForm, VatInvoice
from tests.factories import line, make_form, make_invoice, traveler

KIOSK_LANGS = tuple(code for code, _name, _rtl in KIOSK_LANGUAGES)


class Scenario:
    """The records the pages show, made on first use (one test makes only what it needs)."""

    def __init__(self, demo: Any) -> None:
        self.demo = demo

    @cached_property
    def issued_form(self) -> RefundForm:
        return make_form(
            self.demo.store_sh,
            self.demo.clerk,
            line("丝巾 Silk scarf", "2", "5263.50", unit="条"),
            line("绿茶 Green tea", "3", "120.00", "0.09", unit="千克"),
            who=traveler(name="Marie Dupont"),
        )

    @cached_property
    def bnr_form(self) -> RefundForm:
        return make_form(
            self.demo.store_sh,
            self.demo.clerk,
            line(unit_price="1200.00"),
            who=traveler(name="John Smith", document_number="X1234567", nationality="GB"),
            buy_and_refund=True,
        )

    def _verified(self, name: str, document: str, nationality: str) -> RefundForm:
        from tests.agencies.conftest import verify

        form = make_form(
            self.demo.store_sh,
            self.demo.clerk,
            line(unit_price="880.00"),
            who=traveler(name=name, document_number=document, nationality=nationality),
        )
        return verify(form, self.demo)

    @cached_property
    def choice_form(self) -> RefundForm:
        """An issued form whose traveler chooses a transfer at the kiosk."""
        return make_form(
            self.demo.store_sh,
            self.demo.clerk,
            line(unit_price="640.00"),
            who=traveler(name="Chen Wei", document_number="C7654321", nationality="SG"),
        )

    @cached_property
    def verified_form(self) -> RefundForm:
        return self._verified("Kim Minji", "M12345678", "KR")

    @cached_property
    def cash_refund(self) -> Any:
        """A cash refund the agent has not yet confirmed handing over."""
        from agencies.services import refund_pay

        form = self._verified("Ana Souza", "FA123456", "BR")
        return refund_pay(
            form_number=form.number,
            qr=form.qr_payload,
            document_number="FA123456",
            payout_method="cash",
            agent=self.demo.agent,
            agency=self.demo.agency,
            port=self.demo.port,
        )

    @cached_property
    def cash_prepayment(self) -> Any:
        """The Buy & Refund form's cash prepayment, awaiting the clerk's handover confirmation."""
        from buyrefund.services import prepayment_pay

        return prepayment_pay(
            form_number=self.bnr,
            clerk=self.demo.clerk,
            store=self.demo.store_sh,
            card_token="tok_visa",
            card_holder_name="John Smith",
            payout_method="cash",
        )

    @cached_property
    def handed_over_prepayment(self) -> Any:
        """The cash prepayment once the clerk confirmed handing it over (guarantee held)."""
        from buyrefund.services import prepayment_handover

        self.cash_prepayment  # noqa: B018 - paid first
        return prepayment_handover(
            form_number=self.bnr, clerk=self.demo.clerk, store=self.demo.store_sh
        )

    @cached_property
    def officer_device(self) -> Any:
        """A confirmed authenticator: the officer's log-in asks for its code."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        return TOTPDevice.objects.create(
            user=self.demo.officer, name="authenticator", confirmed=True
        )

    @cached_property
    def refund(self) -> Any:
        from agencies.services import refund_pay

        form = self.verified_form
        return refund_pay(
            form_number=form.number,
            qr=form.qr_payload,
            document_number="M12345678",
            payout_method="alipay",
            payout_account="kim@example.com",
            agent=self.demo.agent,
            agency=self.demo.agency,
            port=self.demo.port,
        )

    @cached_property
    def unused_invoice(self) -> VatInvoice:
        return make_invoice(
            self.demo.store_sh,
            self.demo.clerk,
            line("手表 Watch", "1", "10527.00", unit="只"),
            buyer_name="Marie Dupont",
        )

    @cached_property
    def batch(self) -> Any:
        from customs.services import mailbox_batch_open

        return mailbox_batch_open(port=self.demo.port, officer=self.demo.officer)

    # Values the paths use.
    @property
    def issued(self) -> str:
        return self.issued_form.number

    @property
    def bnr(self) -> str:
        return self.bnr_form.number

    @property
    def invoice(self) -> str:
        return self.unused_invoice.number

    @property
    def refund_id(self) -> int:
        return int(self.refund.pk)

    @property
    def refunded(self) -> str:
        return str(self.refund.form.number)

    @property
    def cash_refund_id(self) -> int:
        return int(self.cash_refund.pk)

    @property
    def batch_id(self) -> int:
        return int(self.batch.pk)

    @property
    def month(self) -> str:
        return timezone.localdate().strftime("%Y-%m")


def _scan(box: str, qr: Callable[[Scenario], str]) -> Callable[[Any, Scenario], None]:
    """Type a QR into a scan box and press Enter, as a keyboard-wedge scanner does."""

    def steps(page: Any, scenario: Scenario) -> None:
        page.fill(box, qr(scenario))
        page.press(box, "Enter")
        page.wait_for_load_state("networkidle")

    return steps


def _kiosk_lookup(page: Any, scenario: Scenario) -> None:
    """Look the verified form up at the kiosk: the result screen with its timeline."""
    form = scenario.verified_form
    page.fill("#kiosk-form-number", form.number)
    page.fill("#kiosk-document", "M12345678")
    page.click("#kiosk-submit")
    page.wait_for_selector("#kiosk-result:not([hidden])")


def _kiosk_choice_refused(page: Any, scenario: Scenario) -> None:
    """At the kiosk's pre-choice, an account the travelers API refuses: the field's message."""
    page.fill("#kiosk-form-number", scenario.issued_form.number)
    page.fill("#kiosk-document", "18AB12345")
    page.click("#kiosk-submit")
    page.wait_for_selector("#kiosk-choice-form:not([hidden])")
    page.check('input[name=payout_method][value="alipay"]')
    page.fill("#kiosk-account", "ABC")
    page.click("#kiosk-choice-submit")
    page.wait_for_selector("#kiosk-account-error:not([hidden])")


def _kiosk_choice_saved(page: Any, scenario: Scenario) -> None:
    """The kiosk's pre-choice saved (Alipay, masked account); looked up again on later runs."""
    page.fill("#kiosk-form-number", scenario.choice_form.number)
    page.fill("#kiosk-document", "C7654321")
    page.click("#kiosk-submit")
    page.wait_for_selector("#kiosk-choice:not([hidden])")
    if page.is_visible("#kiosk-choice-form"):
        page.check('input[name=payout_method][value="alipay"]')
        page.fill("#kiosk-account", "13800138000")
        page.fill("#kiosk-email", "traveler@example.com")
        page.click("#kiosk-choice-submit")
    page.wait_for_selector("#kiosk-choice-current:not([hidden])")


def _submit(
    fields: dict[str, str], button: str = "main button[type=submit]"
) -> Callable[[Any, Scenario], None]:
    """Fill a form's fields and submit it: the page as it answers a mistake."""

    def steps(page: Any, scenario: Scenario) -> None:
        for selector, value in fields.items():
            page.fill(selector, value)
        page.click(button)
        page.wait_for_load_state("networkidle")

    return steps


def _wrong_otp_code(page: Any, scenario: Scenario) -> None:
    """Type a code the officer's authenticator does not show now (never the right one)."""
    from django_otp.oath import TOTP

    device = scenario.officer_device
    right = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    wrong = f"{(int(right) + 1) % 10**device.digits:0{device.digits}d}"
    _submit({"input[name=code]": wrong})(page, scenario)
    page.wait_for_selector("main [role=alert]")  # "That code is not right", not the log-in


def _store_filter(page: Any, scenario: Scenario) -> None:
    """The invoice list searched by a buyer's name."""
    scenario.unused_invoice  # noqa: B018 - made before the page loads
    page.fill("input[name=q]", "Dupont")
    page.press("input[name=q]", "Enter")
    page.wait_for_load_state("networkidle")


@dataclass(frozen=True)
class PageSpec:
    """One page (in one state) that the suite checks."""

    name: str
    path: str
    user: str | None = None
    languages: tuple[str, ...] = ("en",)
    widths: tuple[str, ...] = ("desktop", "360")
    axe: bool = True
    reach: Callable[[Any, Scenario], None] | None = None
    status: int = 200
    needs: tuple[str, ...] = field(default=())

    def url(self, scenario: Scenario, lang: str) -> str:
        for name in self.needs:
            getattr(scenario, name)
        path = self.path.format_map(_Lazy(scenario))
        if lang != "en" or len(self.languages) > 1:
            path += ("&" if "?" in path else "?") + f"lang={lang}"
        return path


class _Lazy(dict[str, Any]):
    def __init__(self, scenario: Scenario) -> None:
        super().__init__()
        self.scenario = scenario

    def __missing__(self, key: str) -> Any:
        return getattr(self.scenario, key)


PAGES: list[PageSpec] = [
    # Anyone
    PageSpec("home", "/"),
    PageSpec("login", "/accounts/login/"),
    PageSpec(
        "login-refused",
        "/accounts/login/",
        reach=_submit({"input[name=username]": "clerk", "input[name=password]": "wrong-password"}),
    ),
    PageSpec("not-found", "/no-such-page/", status=404),
    PageSpec("forbidden", "/customs/", "clerk", status=403),
    # Second factor (django-otp): enroll an authenticator, then the code step of a log-in
    PageSpec("otp-enroll", "/accounts/otp/", "agent"),
    PageSpec("otp-verify", "/accounts/otp/verify/", "officer", needs=("officer_device",)),
    PageSpec(
        "otp-verify-wrong-code",
        "/accounts/otp/verify/",
        "officer",
        needs=("officer_device",),
        reach=_wrong_otp_code,
    ),
    # Store clerk
    PageSpec("store-today", "/store/", "clerk", needs=("issued_form",)),
    PageSpec("store-issue", "/store/forms/new/", "clerk", needs=("unused_invoice",)),
    PageSpec("store-form", "/store/forms/{issued}/", "clerk"),
    PageSpec("store-void", "/store/forms/{issued}/void/", "clerk"),
    PageSpec("store-form-refunded", "/store/forms/{refunded}/", "clerk"),
    PageSpec("store-prepayment", "/store/forms/{bnr}/prepayment/", "clerk"),
    # The cash handover: confirm the cash left the drawer, then the held guarantee
    PageSpec(
        "store-prepayment-handover",
        "/store/forms/{bnr}/prepayment/",
        "clerk",
        needs=("cash_prepayment",),
    ),
    PageSpec(
        "store-prepayment-paid",
        "/store/forms/{bnr}/prepayment/",
        "clerk",
        needs=("handed_over_prepayment",),
    ),
    PageSpec(
        "store-prepayment-return",
        "/store/forms/{bnr}/prepayment/return/",
        "clerk",
        needs=("handed_over_prepayment",),
    ),
    PageSpec("store-invoices", "/store/invoices/", "clerk", needs=("issued_form",)),
    PageSpec("store-invoices-search", "/store/invoices/", "clerk", reach=_store_filter),
    PageSpec("store-invoice", "/store/invoices/{invoice}/", "clerk"),
    # Customs officer
    PageSpec("customs-scan", "/customs/", "officer"),
    PageSpec(
        "customs-form",
        "/customs/",
        "officer",
        reach=_scan("input[name=code]", lambda s: s.issued_form.qr_payload),
    ),
    PageSpec("customs-today", "/customs/today/", "officer", needs=("verified_form",)),
    PageSpec("customs-inspections", "/customs/inspections/", "officer"),
    PageSpec("customs-mailbox", "/customs/mailbox/", "officer"),
    PageSpec("customs-batch", "/customs/mailbox/{batch_id}/", "officer"),
    # Agency operator
    PageSpec("agency-counter", "/agency/", "agent", needs=("refund",)),
    PageSpec(
        "agency-visit",
        "/agency/",
        "agent",
        reach=_scan("input[name=qr]", lambda s: s.verified_form.qr_payload),
    ),
    PageSpec("agency-refunds", "/agency/refunds/", "agent", needs=("refund",)),
    PageSpec("agency-refund", "/agency/refunds/{refund_id}/", "agent"),
    PageSpec("agency-refund-handover", "/agency/refunds/{cash_refund_id}/", "agent"),
    PageSpec("agency-settlement", "/agency/settlement/?month={month}", "agent", needs=("refund",)),
    PageSpec(
        "agency-settlement-bad-month", "/agency/settlement/?month=2026-13", "agent", status=400
    ),
    PageSpec("agency-guarantees", "/agency/guarantees/", "agent"),
    # Tax authority analyst (read-only)
    PageSpec("authority-statistics", "/authority/statistics/", "analyst", needs=("refund",)),
    PageSpec("authority-registry", "/authority/registry/", "analyst"),
    PageSpec("authority-registry-store", "/authority/registry/DEMO-SH-001/", "analyst"),
    PageSpec("authority-ledger", "/authority/ledger/", "analyst", needs=("refund",)),
    PageSpec("authority-risk", "/authority/risk/", "analyst"),
    PageSpec("authority-reads", "/authority/reads/", "analyst"),
    # Traveler kiosk (ten languages; Arabic right to left)
    PageSpec("kiosk-start", "/kiosk/", languages=("en", "ar")),
    # The other eight languages (German and Russian words are the longest) on a phone.
    PageSpec(
        "kiosk-start-phone",
        "/kiosk/",
        languages=tuple(code for code in KIOSK_LANGS if code not in ("en", "ar")),
        widths=("360",),
        axe=False,
    ),
    PageSpec("kiosk-result", "/kiosk/", languages=("en", "ar"), reach=_kiosk_lookup),
    # The transfer chosen ahead at the kiosk: an account refused, then a choice saved
    PageSpec(
        "kiosk-choice-refused", "/kiosk/", languages=("en", "ar"), reach=_kiosk_choice_refused
    ),
    PageSpec("kiosk-choice-saved", "/kiosk/", languages=("en", "ar"), reach=_kiosk_choice_saved),
    # An administrator pastes a kiosk machine's device key here, once per machine
    PageSpec("kiosk-device", "/kiosk/device/"),
    PageSpec(
        "kiosk-result-phone",
        "/kiosk/",
        languages=("de", "ru"),
        widths=("360",),
        reach=_kiosk_lookup,
    ),
]
