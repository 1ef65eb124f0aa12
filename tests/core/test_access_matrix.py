# ruff: noqa: E501
"""Who may do what, as a table: every API operation of the schema and every page, for every
demo role, the anonymous visitor and a user with no role (SPEC §3, stores.scopes).

Read a row left to right: the HTTP status each caller gets. 401/403/404 are the exact
refusals (404 is also what a form out of scope answers: the same as a form that does not
exist); pages send the anonymous visitor to the login (302). A refused write must change
nothing: no business row and no ledger entry (a refusal a service records on purpose, an
attempt with its own ledger entry, is allowed for a 404/422 only; a 401/403 writes nothing
at all). The fixtures: ``sh`` is a DEMO-SH-001 form verified at PVG, ``bj`` a DEMO-BJ-001
form verified at PEK, ``issued`` a DEMO-SH-001 form nobody presented yet, ``walk`` a valid
form number that was never issued (walking numbers).

A new route without a row here fails ``test_every_route_has_a_row``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agencies.models import Prepayment, Refund, RefundAttempt
from agencies.services import refund_handover, refund_pay
from core.models import LedgerEntry
from core.numbering import form_number
from customs.models import MailboxBatch, MailboxBatchItem, Verification, VerificationAttempt
from customs.services import mailbox_batch_open, verification_create
from stores.models import FormPresentation, RefundForm, VatInvoice
from tests.factories import UserFactory, line, make_form, make_invoice, traveler

ROLES = (
    "clerk",
    "clerk2",
    "officer",
    "officer2",
    "agent",
    "agent2",
    "analyst",
    "admin",
    "norole",
    "anon",
)
DOCUMENT = "18AB12345"
ATTEMPT_RECORDS = ("customs.verificationattempt", "agencies.refundattempt")


@dataclass(frozen=True)
class Row:
    """One route: method, path template, the status per caller (in ``ROLES`` order)."""

    method: str
    template: str
    codes: tuple[int, ...]
    args: dict[str, str] = field(default_factory=dict)  # placeholder -> World attribute
    body: Callable[[World, str], Any] | None = None  # (world, role) -> request body
    query: str = ""
    note: str = ""

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.method} {self.template}{'?' + self.query if self.query else ''} {extra}"


def R(method: str, template: str, *codes: int, **options: Any) -> Row:
    assert len(codes) == len(ROLES), (template, codes)
    return Row(method, template, codes, **options)


class World:
    """The records a row needs, built on first use (most rows need one or two)."""

    def __init__(self, demo: Any) -> None:
        self.demo = demo

    def _verified(self, store: Any, clerk: Any, port: Any, officer: Any) -> RefundForm:
        form = make_form(store, clerk, line(unit_price="300.00"), who=traveler())
        verification_create(
            port=port,
            officer=officer,
            form_number=form.number,
            qr=form.qr_payload,
            departure_date=timezone.localdate(),
        )
        form.refresh_from_db()
        return form

    @cached_property
    def sh(self) -> str:
        d = self.demo
        return self._verified(d.store_sh, d.clerk, d.port, d.officer).number

    @cached_property
    def sh_form(self) -> RefundForm:
        return RefundForm.objects.get(number=self.sh)

    @cached_property
    def bj(self) -> str:
        d = self.demo
        return self._verified(d.store_bj, d.clerk2, d.port2, d.officer2).number

    @cached_property
    def issued(self) -> str:
        return make_form(self.demo.store_sh, self.demo.clerk, line()).number

    @cached_property
    def buy_and_refund(self) -> str:
        form = make_form(self.demo.store_sh, self.demo.clerk, line(), buy_and_refund=True)
        return form.number

    @cached_property
    def phone(self) -> str:
        """The phone-page token of the ``issued`` form (made when the store issued it)."""
        from travelers.models import TravelerPage

        return TravelerPage.objects.get(form__number=self.issued).token

    no_phone = "no-such-phone-page-token"

    @cached_property
    def walk(self) -> str:
        return form_number(region_code="31", issued_on=timezone.localdate(), sequence=99_999_999)

    @cached_property
    def invoice(self) -> str:
        return make_invoice(self.demo.store_sh, self.demo.clerk).number

    @cached_property
    def refund(self) -> int:
        d = self.demo
        form = self._verified(d.store_sh, d.clerk, d.port, d.officer)
        paid = refund_pay(
            form_number=form.number,
            qr=form.qr_payload,
            document_number=DOCUMENT,
            payout_method="cash",
            agent=d.agent,
            agency=d.agency,
        )
        return paid.pk

    @cached_property
    def paid_refund(self) -> int:
        """A cash refund whose handover the agent confirmed: the one a receipt is printed for."""
        d = self.demo
        refund_handover(refund_id=self.refund, agent=d.agent, agency=d.agency)
        return self.refund

    @cached_property
    def batch(self) -> int:
        return mailbox_batch_open(port=self.demo.port, officer=self.demo.officer).pk

    @cached_property
    def period(self) -> str:
        return timezone.localdate().strftime("%Y-%m")

    @cached_property
    def token(self) -> str:
        return "no-such-visit"

    kind_forms = "forms"
    kind_invoices = "invoices"
    kind_refunds = "refunds"
    store_code = "DEMO-SH-001"

    # --- request bodies (role -> body); built before the counts are taken -----------

    def fresh_invoice_for(self, role: str) -> str:
        d = self.demo
        store, clerk = (d.store_bj, d.clerk2) if role == "clerk2" else (d.store_sh, d.clerk)
        return make_invoice(store, clerk).number

    def fresh_issued(self) -> RefundForm:
        return make_form(self.demo.store_sh, self.demo.clerk, line())


def _invoice_body(world: World, role: str) -> Any:
    return {
        "buyer_name": "Marie Dupont",
        "lines": [{"item": "Scarf", "quantity": "1", "unit_price": "300.00", "vat_rate": "0.13"}],
    }


def _form_body(world: World, role: str) -> Any:
    return {
        "traveler": {
            "name": "Marie Dupont",
            "document_type": "passport",
            "document_number": DOCUMENT,
            "nationality": "FR",
            "last_entry_date": (timezone.localdate() - timedelta(days=10)).isoformat(),
        },
        "invoice_numbers": [world.fresh_invoice_for(role)],
    }


def _verify_body(world: World, role: str) -> Any:
    form = world.fresh_issued()
    return {"form": form.number, "qr": form.qr_payload, "departure_date": str(timezone.localdate())}


def _typed_verify_wrong_document(world: World, role: str) -> Any:
    return {"form": world.issued, "document_number": "X0000000", "departure_date": "2026-01-01"}


def _present_qr(world: World, role: str) -> Any:
    form = RefundForm.objects.get(number=world.sh)
    return {"form": form.number, "qr": form.qr_payload}


def _present_typed(world: World, role: str) -> Any:
    return {"form": world.sh, "document_number": DOCUMENT}


def _present_walk(world: World, role: str) -> Any:
    return {"form": world.walk, "document_number": DOCUMENT}


def _search_body(world: World, role: str) -> Any:
    return {"document_number": DOCUMENT}


def _refund_body(world: World, role: str) -> Any:
    form = world.sh_form
    return {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "payout_method": "cash",
    }


def _refund_typed_body(world: World, role: str) -> Any:
    return {"form": world.sh, "document_number": DOCUMENT, "payout_method": "cash"}


def _check_body(world: World, role: str) -> Any:
    form = world.sh_form
    return {"form": form.number, "qr": form.qr_payload, "document_number": DOCUMENT}


def _check_walk_body(world: World, role: str) -> Any:
    return {"form": world.walk, "document_number": DOCUMENT}


def _prepayment_body(world: World, role: str) -> Any:
    return {"card_token": "tok_visa", "card_holder_name": "Marie Dupont", "payout_method": "cash"}


def _wrong_password(world: World, role: str) -> Any:
    return {"username": "clerk", "password": "not-the-password"}


def _wrong_code(world: World, role: str) -> Any:
    return {"code": "12345x"}


def _kiosk_body(world: World, role: str) -> Any:
    return {"form": world.sh, "document_number": DOCUMENT}


def _choice_body(world: World, role: str) -> Any:
    return {
        "form": world.issued,
        "document_number": DOCUMENT,
        "payout_method": "alipay",
        "payout_account": "13800138000",
    }


def _choice_walk_body(world: World, role: str) -> Any:
    return {**_choice_body(world, role), "form": world.walk}


def _phone_choice_body(world: World, role: str) -> Any:
    body = _choice_body(world, role)
    return {**body, "form_number": body.pop("form")}


def _phone_contact_body(world: World, role: str) -> Any:
    return {"email": "marie@example.com"}


def _green_lane_body(world: World, role: str) -> Any:
    form = RefundForm.objects.get(number=world.issued)
    return {
        "form": form.number,
        "qr": form.qr_payload,
        "document_number": DOCUMENT,
        "departure_date": timezone.localdate().isoformat(),
    }


def _token_body(world: World, role: str) -> Any:
    return {"username": "clerk", "password": "refund-demo-2026"}


def _void_body(world: World, role: str) -> Any:
    return {"reason": "Goods returned"}


def _scan_body(world: World, role: str) -> Any:
    return {"code": world.fresh_issued().qr_payload}


def _batch_body(world: World, role: str) -> Any:
    return {}


def _page_scan_body(world: World, role: str) -> Any:
    return {"code": world.sh}


def _page_counter_body(world: World, role: str) -> Any:
    return {"qr": world.sh, "document_number": DOCUMENT}


def _page_verify_body(world: World, role: str) -> Any:
    return {"departure_date": str(timezone.localdate()), "traveler_matches": "on"}


def _page_void_body(world: World, role: str) -> Any:
    return {"reason": "Goods returned"}


def _empty(world: World, role: str) -> Any:
    return {}


# fmt: off
#                                                       clerk clerk2 off off2 agent agent2 analyst admin norole anon
API = [
    R("POST", "/api/v1/auth/token/",                         200, 200, 200, 200, 200, 200, 200, 200, 200, 200, body=_token_body),
    R("GET", "/api/v1/keys/",                                200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    R("POST", "/api/v1/invoices/",                           201, 201, 403, 403, 403, 403, 403, 403, 403, 401, body=_invoice_body),
    R("GET", "/api/v1/invoices/{number}/",                   200, 404, 403, 403, 403, 403, 200, 403, 403, 401, args={"number": "invoice"}),
    R("GET", "/api/v1/forms/",                               200, 200, 200, 200, 200, 200, 200, 403, 403, 401),
    R("POST", "/api/v1/forms/",                              201, 201, 403, 403, 403, 403, 403, 403, 403, 401, body=_form_body),
    R("POST", "/api/v1/forms/search/",                       200, 200, 403, 403, 403, 403, 403, 403, 403, 401, body=_search_body),
    # a DEMO-SH-001 form verified at PVG: PEK's officer and DEMO-AGENCY-2's agent get the 404
    R("GET", "/api/v1/forms/{number}/",                      200, 404, 200, 404, 200, 404, 200, 403, 403, 401, args={"number": "sh"}),
    # and the other way round for a DEMO-BJ-001 form verified at PEK
    R("GET", "/api/v1/forms/{number}/",                      404, 200, 404, 200, 404, 200, 200, 403, 403, 401, args={"number": "bj"}),
    # issued, never presented: only its store, its serving agency and the authority
    R("GET", "/api/v1/forms/{number}/",                      200, 404, 404, 404, 200, 404, 200, 403, 403, 401, args={"number": "issued"}),
    # walking numbers: a valid number never issued is the very same 404
    R("GET", "/api/v1/forms/{number}/",                      404, 404, 404, 404, 404, 404, 404, 403, 403, 401, args={"number": "walk"}),
    R("POST", "/api/v1/forms/{number}/void/",                200, 404, 403, 403, 403, 403, 403, 403, 403, 401, args={"number": "issued"}, body=_void_body),
    R("POST", "/api/v1/forms/{number}/prepayment/",          201, 404, 403, 403, 403, 403, 403, 403, 403, 401, args={"number": "buy_and_refund"}, body=_prepayment_body),
    R("POST", "/api/v1/forms/{number}/prepayment/return/",   409, 404, 403, 403, 403, 403, 403, 403, 403, 401, args={"number": "buy_and_refund"}),
    R("POST", "/api/v1/customs/verifications/",              403, 403, 201, 201, 403, 403, 403, 403, 403, 401, body=_verify_body),
    # typed number with a wrong document: the 404 of a missing form
    R("POST", "/api/v1/customs/verifications/",              403, 403, 404, 404, 403, 403, 403, 403, 403, 401, body=_typed_verify_wrong_document, note="typed"),
    R("GET", "/api/v1/customs/verifications/",               403, 403, 200, 200, 403, 403, 403, 403, 403, 401),
    R("GET", "/api/v1/customs/forms/{code}/",                403, 403, 200, 404, 403, 403, 403, 403, 403, 401, args={"code": "sh"}),
    R("GET", "/api/v1/customs/forms/{code}/",                403, 403, 404, 404, 403, 403, 403, 403, 403, 401, args={"code": "issued"}),
    R("GET", "/api/v1/customs/forms/{code}/",                403, 403, 404, 404, 403, 403, 403, 403, 403, 401, args={"code": "walk"}),
    # a scanned, genuine QR is a presentation at any port (the traveler may leave from it)
    R("POST", "/api/v1/customs/presentations/",              403, 403, 201, 201, 403, 403, 403, 403, 403, 401, body=_present_qr),
    R("POST", "/api/v1/customs/presentations/",              403, 403, 201, 201, 403, 403, 403, 403, 403, 401, body=_present_typed, note="typed"),
    R("POST", "/api/v1/customs/presentations/",              403, 403, 404, 404, 403, 403, 403, 403, 403, 401, body=_present_walk, note="walk"),
    R("GET", "/api/v1/customs/inspections/",                 403, 403, 200, 200, 403, 403, 403, 403, 403, 401),
    R("GET", "/api/v1/customs/mailbox-batches/",             403, 403, 200, 200, 403, 403, 403, 403, 403, 401),
    R("POST", "/api/v1/customs/mailbox-batches/",            403, 403, 201, 422, 403, 403, 403, 403, 403, 401, body=_batch_body),
    R("GET", "/api/v1/customs/mailbox-batches/{batch_id}/",  403, 403, 200, 404, 403, 403, 403, 403, 403, 401, args={"batch_id": "batch"}),
    R("POST", "/api/v1/customs/mailbox-batches/{batch_id}/scan/", 403, 403, 201, 404, 403, 403, 403, 403, 403, 401, args={"batch_id": "batch"}, body=_scan_body),
    R("POST", "/api/v1/customs/mailbox-batches/{batch_id}/close/", 403, 403, 200, 404, 403, 403, 403, 403, 403, 401, args={"batch_id": "batch"}),
    R("GET", "/api/v1/customs/mailbox-batches/{batch_id}/export/", 403, 403, 200, 404, 403, 403, 403, 403, 403, 401, args={"batch_id": "batch"}),
    # an agent pays only forms verified at a port its agency serves
    R("POST", "/api/v1/refunds/",                            403, 403, 403, 403, 201, 404, 403, 403, 403, 401, body=_refund_body),
    R("POST", "/api/v1/refunds/",                            403, 403, 403, 403, 201, 404, 403, 403, 403, 401, body=_refund_typed_body, note="typed"),
    R("GET", "/api/v1/refunds/",                             403, 403, 403, 403, 200, 200, 200, 403, 403, 401),
    R("POST", "/api/v1/refunds/check/",                      403, 403, 403, 403, 200, 404, 403, 403, 403, 401, body=_check_body),
    R("POST", "/api/v1/refunds/check/",                      403, 403, 403, 403, 404, 404, 403, 403, 403, 401, body=_check_walk_body, note="walk"),
    R("GET", "/api/v1/refunds/{id}/",                        403, 403, 403, 403, 200, 404, 200, 403, 403, 401, args={"id": "refund"}),
    R("POST", "/api/v1/refunds/{id}/retry/",                 403, 403, 403, 403, 409, 404, 403, 403, 403, 401, args={"id": "refund"}),
    R("POST", "/api/v1/refunds/{id}/handover/",              403, 403, 403, 403, 200, 404, 403, 403, 403, 401, args={"id": "refund"}),
    R("POST", "/api/v1/forms/{number}/prepayment/handover/", 409, 404, 403, 403, 403, 403, 403, 403, 403, 401, args={"number": "buy_and_refund"}),
    R("GET", "/api/v1/settlements/{period}/",                403, 403, 403, 403, 200, 200, 403, 403, 403, 401, args={"period": "period"}),
    R("POST", "/api/v1/kiosk/lookup/",                       200, 200, 200, 200, 200, 200, 200, 200, 200, 200, body=_kiosk_body),
    R("POST", "/api/v1/travelers/payout-choice/",            201, 201, 201, 201, 201, 201, 201, 201, 201, 201, body=_choice_body, note="anonymous: proves possession"),
    R("POST", "/api/v1/travelers/payout-choice/",            404, 404, 404, 404, 404, 429, 429, 429, 429, 429, body=_choice_walk_body, note="walking numbers: the form lock after 5"),
    # A kiosk device's routes: only Authorization: Device <key> (tests/kiosk/test_green_lane.py).
    R("POST", "/api/v1/kiosk/green-lane/",                   401, 401, 401, 401, 401, 401, 401, 401, 401, 401, body=_green_lane_body),
    R("GET", "/api/v1/kiosk/device/",                        401, 401, 401, 401, 401, 401, 401, 401, 401, 401),
    # the tax authority (issue 13): statistics for the analyst; risk also for officers
    R("GET", "/api/v1/authority/statistics/",                403, 403, 403, 403, 403, 403, 200, 403, 403, 401, query="by=nationality"),
    R("GET", "/api/v1/authority/risk/",                      403, 403, 200, 200, 403, 403, 200, 403, 403, 401),
    # ledger proofs: whoever may read the record (stores.scopes / refunds_in_scope)
    R("GET", "/api/v1/ledger/proofs/{kind}/{ident}/",        200, 404, 200, 404, 200, 404, 200, 403, 403, 401, args={"kind": "kind_forms", "ident": "sh"}),
    R("GET", "/api/v1/ledger/proofs/{kind}/{ident}/",        404, 404, 404, 404, 404, 404, 404, 403, 403, 401, args={"kind": "kind_forms", "ident": "walk"}),
    R("GET", "/api/v1/ledger/proofs/{kind}/{ident}/",        200, 404, 404, 404, 404, 404, 200, 403, 403, 401, args={"kind": "kind_invoices", "ident": "invoice"}),
    R("GET", "/api/v1/ledger/proofs/{kind}/{ident}/",        200, 404, 404, 404, 200, 404, 200, 403, 403, 401, args={"kind": "kind_refunds", "ident": "refund"}),
    R("GET", "/api/v1/ledger/consistency/",                  404, 404, 404, 404, 404, 404, 404, 403, 403, 401, query="first=1&second=1", note="no signed head yet"),
    R("GET", "/api/v1/ledger/heads/",                        200, 200, 200, 200, 200, 200, 200, 403, 403, 401),
]

#                                                       clerk clerk2 off off2 agent agent2 analyst admin norole anon
PAGES = [
    R("GET", "/",                                            302, 302, 302, 302, 302, 302, 302, 200, 200, 200, note="staff go to their portal"),
    R("GET", "/favicon.ico",                                 301, 301, 301, 301, 301, 301, 301, 301, 301, 301),
    R("GET", "/api/docs/",                                   200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    R("GET", "/api/schema/",                                 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # log-in, log-out and the second factor (django-otp; optional in the demo, required in production)
    R("GET", "/accounts/login/",                             200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    R("POST", "/accounts/login/",                            200, 200, 200, 200, 200, 200, 200, 200, 200, 200, body=_wrong_password, note="a wrong password: the form again"),
    R("POST", "/accounts/logout/",                           302, 302, 302, 302, 302, 302, 302, 302, 302, 302),
    R("GET", "/accounts/otp/",                               200, 200, 200, 200, 200, 200, 200, 200, 200, 302, note="a new, unconfirmed authenticator to scan"),
    R("POST", "/accounts/otp/",                              400, 400, 400, 400, 400, 400, 400, 400, 400, 302, body=_wrong_code),
    R("GET", "/accounts/otp/verify/",                        302, 302, 302, 302, 302, 302, 302, 302, 302, 302, note="no authenticator: nothing to verify"),
    R("POST", "/accounts/otp/verify/",                       302, 302, 302, 302, 302, 302, 302, 302, 302, 302, body=_wrong_code),
    R("GET", "/store/",                                      200, 200, 403, 403, 403, 403, 403, 403, 403, 302),
    R("GET", "/store/find/",                                 302, 302, 403, 403, 403, 403, 403, 403, 403, 302, query="q={sh}"),
    R("GET", "/store/forms/new/",                            200, 200, 403, 403, 403, 403, 403, 403, 403, 302),
    R("GET", "/store/invoices/",                             200, 200, 403, 403, 403, 403, 403, 403, 403, 302),
    R("GET", "/store/invoices/{number}/",                    200, 404, 403, 403, 403, 403, 403, 403, 403, 302, args={"number": "invoice"}),
    R("POST", "/store/forms/estimate/",                      200, 200, 403, 403, 403, 403, 403, 403, 403, 302, body=_empty),
    R("POST", "/store/mrz/",                                 200, 200, 403, 403, 403, 403, 403, 403, 403, 302, body=_empty),
    R("GET", "/store/forms/{number}/",                       200, 404, 403, 403, 403, 403, 403, 403, 403, 302, args={"number": "sh"}),
    R("GET", "/store/forms/{number}/pdf/",                   200, 404, 403, 403, 403, 403, 403, 403, 403, 302, args={"number": "sh"}),
    R("POST", "/store/forms/{number}/void/",                 302, 404, 403, 403, 403, 403, 403, 403, 403, 302, args={"number": "issued"}, body=_page_void_body),
    R("GET", "/store/forms/{number}/prepayment/",            200, 404, 403, 403, 403, 403, 403, 403, 403, 302, args={"number": "buy_and_refund"}),
    R("GET", "/store/forms/{number}/prepayment/return/",     302, 404, 403, 403, 403, 403, 403, 403, 403, 302, args={"number": "buy_and_refund"}),
    # a typed number alone shows nothing at a port where the form was not verified or presented
    R("POST", "/customs/",                                   403, 403, 302, 404, 403, 403, 403, 403, 403, 302, body=_page_scan_body),
    R("GET", "/customs/forms/{number}/",                     403, 403, 200, 404, 403, 403, 403, 403, 403, 302, args={"number": "sh"}),
    R("GET", "/customs/forms/{number}/",                     403, 403, 404, 404, 403, 403, 403, 403, 403, 302, args={"number": "walk"}),
    R("POST", "/customs/forms/{number}/",                    403, 403, 404, 404, 403, 403, 403, 403, 403, 302, args={"number": "issued"}, body=_page_verify_body),
    R("GET", "/customs/today/",                              403, 403, 200, 200, 403, 403, 403, 403, 403, 302),
    R("GET", "/customs/inspections/",                        403, 403, 200, 200, 403, 403, 403, 403, 403, 302),
    R("GET", "/customs/mailbox/",                            403, 403, 200, 200, 403, 403, 403, 403, 403, 302),
    R("GET", "/customs/mailbox/{batch_id}/",                 403, 403, 200, 404, 403, 403, 403, 403, 403, 302, args={"batch_id": "batch"}),
    R("POST", "/customs/mailbox/{batch_id}/close/",          403, 403, 302, 404, 403, 403, 403, 403, 403, 302, args={"batch_id": "batch"}, body=_empty),
    R("GET", "/customs/mailbox/{batch_id}/export.csv",       403, 403, 200, 404, 403, 403, 403, 403, 403, 302, args={"batch_id": "batch"}),
    # the damaged-QR path at the counter: typed number + full document; PEK's agency: none
    R("POST", "/agency/",                                    403, 403, 403, 403, 302, 422, 403, 403, 403, 302, body=_page_counter_body),
    R("GET", "/agency/counter/{token}/",                     403, 403, 403, 403, 302, 302, 403, 403, 403, 302, args={"token": "token"}),
    R("POST", "/agency/counter/{token}/pay/",                403, 403, 403, 403, 302, 302, 403, 403, 403, 302, args={"token": "token"}, body=_empty),
    R("GET", "/agency/refunds/",                             403, 403, 403, 403, 200, 200, 403, 403, 403, 302),
    R("GET", "/agency/refunds/{pk}/",                        403, 403, 403, 403, 200, 404, 403, 403, 403, 302, args={"pk": "refund"}),
    R("POST", "/agency/refunds/{pk}/resend/",                403, 403, 403, 403, 302, 404, 403, 403, 403, 302, args={"pk": "refund"}, body=_empty),
    R("POST", "/agency/refunds/{pk}/handover/",              403, 403, 403, 403, 302, 404, 403, 403, 403, 302, args={"pk": "refund"}, body=_empty),
    R("POST", "/store/forms/{number}/prepayment/handover/",  302, 404, 403, 403, 403, 403, 403, 403, 403, 302, args={"number": "buy_and_refund"}, body=_empty),
    R("GET", "/agency/refunds/{pk}/receipt.pdf",             403, 403, 403, 403, 200, 404, 403, 403, 403, 302, args={"pk": "paid_refund"}),
    R("GET", "/agency/settlement/",                          403, 403, 403, 403, 200, 200, 403, 403, 403, 302),
    R("GET", "/agency/settlement/{period}.csv",              403, 403, 403, 403, 200, 200, 403, 403, 403, 302, args={"period": "period"}),
    R("GET", "/agency/settlement/{period}.xlsx",             403, 403, 403, 403, 200, 200, 403, 403, 403, 302, args={"period": "period"}),
    R("GET", "/agency/guarantees/",                          403, 403, 403, 403, 200, 200, 403, 403, 403, 302),
    R("GET", "/kiosk/",                                      200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    R("GET", "/t/{token}/",                                  200, 200, 200, 200, 200, 200, 200, 200, 200, 200, args={"token": "phone"}),
    R("GET", "/t/{token}/",                                  404, 404, 404, 404, 404, 404, 404, 404, 404, 404, args={"token": "no_phone"}),
    R("POST", "/t/{token}/contact/",                         302, 302, 302, 302, 302, 302, 302, 302, 302, 302, args={"token": "phone"}, body=_phone_contact_body),
    R("POST", "/t/{token}/payout/",                          302, 302, 302, 302, 302, 302, 302, 302, 302, 302, args={"token": "phone"}, body=_phone_choice_body),
    R("POST", "/t/{token}/payout/",                          404, 404, 404, 404, 404, 404, 404, 404, 404, 404, args={"token": "no_phone"}, body=_phone_choice_body),
    R("GET", "/t/{token}/unsubscribe/",                      200, 200, 200, 200, 200, 200, 200, 200, 200, 200, args={"token": "phone"}),
    R("POST", "/t/{token}/unsubscribe/",                     200, 200, 200, 200, 200, 200, 200, 200, 200, 200, args={"token": "phone"}, body=_empty),
    R("GET", "/kiosk/device/",                               200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    R("GET", "/authority/",                                  302, 302, 302, 302, 302, 302, 302, 302, 302, 302, note="redirects to statistics"),
    R("GET", "/authority/statistics/",                       403, 403, 403, 403, 403, 403, 200, 403, 403, 302),
    R("GET", "/authority/registry/",                         403, 403, 403, 403, 403, 403, 200, 403, 403, 302),
    R("GET", "/authority/registry/{code}/",                  403, 403, 403, 403, 403, 403, 200, 403, 403, 302, args={"code": "store_code"}),
    R("GET", "/authority/ledger/",                           403, 403, 403, 403, 403, 403, 200, 403, 403, 302),
    R("GET", "/authority/ledger/proofs/{kind}/{ident}/",     403, 403, 403, 403, 403, 403, 200, 403, 403, 302, args={"kind": "kind_forms", "ident": "sh"}),
    R("GET", "/authority/risk/",                             403, 403, 403, 403, 403, 403, 200, 403, 403, 302),
    R("GET", "/authority/reads/",                            403, 403, 403, 403, 403, 403, 200, 403, 403, 302),
]
# fmt: on


def _business_counts() -> tuple[int, ...]:
    return (
        RefundForm.objects.count(),
        RefundForm.objects.filter(status="issued").count(),
        VatInvoice.objects.count(),
        Verification.objects.count(),
        Refund.objects.count(),
        Prepayment.objects.count(),
        MailboxBatch.objects.filter(status="open").count(),
        MailboxBatchItem.objects.count(),
        FormPresentation.objects.count(),
        LedgerEntry.objects.exclude(record_type__in=ATTEMPT_RECORDS).count(),
    )


def _all_counts() -> tuple[int, ...]:
    return (
        *_business_counts(),
        VerificationAttempt.objects.count(),
        RefundAttempt.objects.count(),
        LedgerEntry.objects.count(),
    )


def _users(demo: Any) -> dict[str, Any]:
    users = {name: getattr(demo, name) for name in ROLES[:8]}
    users["norole"] = UserFactory(username="norole")
    users["anon"] = None
    return users


def _resolve(text: str, world: World, args: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(getattr(world, args.get(name, name)))

    return re.sub(r"\{(\w+)\}", value, text)


def _client(user: Any, *, api: bool) -> Any:
    if api:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client
    page_client = Client()
    if user is not None:
        page_client.force_login(user)
    return page_client


@pytest.mark.parametrize(
    ("kind", "row"),
    [("api", row) for row in API] + [("page", row) for row in PAGES],
    ids=[f"api {r.id}" for r in API] + [f"page {r.id}" for r in PAGES],
)
def test_who_may_do_what(demo: Any, kind: str, row: Row) -> None:
    world = World(demo)
    users = _users(demo)
    path = _resolve(row.template, world, row.args)
    if row.query:
        path += "?" + _resolve(row.query, world, row.args)
    wrong = []
    for role, expected in zip(ROLES, row.codes, strict=True):
        client = _client(users[role], api=kind == "api")
        body = row.body(world, role) if row.body else None
        before = _all_counts()
        if row.method == "GET":
            reply = client.get(path)
        elif kind == "api":
            reply = client.post(path, body, format="json")
        else:
            reply = client.post(path, body or {})
        if reply.status_code != expected:
            wrong.append(f"{role}: {reply.status_code} (expected {expected})")
            continue
        if row.method == "POST" and expected in (401, 403):
            if _all_counts() != before:
                wrong.append(f"{role}: refused with {expected} but something was written")
        elif row.method == "POST" and expected == 404 and _business_counts() != before[:10]:
            wrong.append(f"{role}: refused with 404 but a record changed")
        if kind == "api" and expected in (401, 403, 404):
            code = reply.json()["code"]
            allowed = {
                401: {"not_authenticated"},
                403: {"permission_denied"},
                404: {"not_found", "batch_not_found"},  # a batch of another port
            }
            if code not in allowed[expected]:
                wrong.append(f"{role}: {expected} with code {code!r}")
    assert not wrong, f"{row.method} {path}: " + "; ".join(wrong)


def _schema_operations(client: Any) -> set[tuple[str, str]]:
    schema = client.get("/api/schema/?format=json").json()
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def _page_routes() -> set[str]:
    routes: set[str] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, text)
            elif isinstance(pattern, URLPattern):
                routes.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text))

    walk(get_resolver().url_patterns, "")
    return {
        r
        for r in routes
        if r in ("/", "/favicon.ico", "/api/docs/", "/api/schema/")
        or r.startswith(
            ("/accounts/", "/store/", "/customs/", "/agency/", "/kiosk/", "/authority/", "/t/")
        )
    }


def test_every_route_has_a_row(demo: Any) -> None:
    """The table covers every operation of the OpenAPI schema and every page (log-in,
    second factor, staff portals, kiosk, API docs); Django's admin has its own permissions."""
    operations = _schema_operations(APIClient())
    covered = {(row.method, row.template) for row in API}
    assert operations - covered == set(), "API operations without a row in the access table"
    pages = _page_routes()
    assert pages - {row.template for row in PAGES} == set(), "pages without a row in the table"


def test_the_404_of_a_form_out_of_scope_is_the_404_of_no_form(demo: Any) -> None:
    """agent2 and officer2 reading a PVG form get byte for byte what a missing number gets."""
    world = World(demo)
    for user in (demo.agent2, demo.officer2, demo.clerk2):
        client = _client(user, api=True)
        out_of_scope = client.get(f"/api/v1/forms/{world.sh}/")
        missing = client.get(f"/api/v1/forms/{world.walk}/")
        assert out_of_scope.status_code == missing.status_code == 404

        def shape(reply: Any, number: str) -> Any:
            body = reply.json()
            return (body["code"], body["message"].replace(number, "N"), body["extra"].keys())

        assert shape(out_of_scope, world.sh) == shape(missing, world.walk)


def test_walking_numbers_reads_nothing(demo: Any) -> None:
    """An agent of another agency walks 40 numbers around real forms: every one is a 404."""
    world = World(demo)
    real = [world.sh, world.issued, world.buy_and_refund]
    client = _client(demo.agent2, api=True)
    start = int(real[0][4:15])  # region (2) + year (2) + sequence (11) + check digit
    walked = [
        form_number(region_code=real[0][:2], issued_on=timezone.localdate(), sequence=n)
        for n in range(max(1, start - 20), start + 20)
    ]
    assert set(real) <= set(walked)
    assert {client.get(f"/api/v1/forms/{number}/").status_code for number in walked} == {404}
