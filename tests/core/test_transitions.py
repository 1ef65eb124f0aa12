"""One mechanism for status changes (core.transitions), ledger heads kept on the record
rows, ledger batches, and reference data cached per process."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.services import refund_pay
from core.exceptions import InvalidTransition
from core.ledger import (
    LedgerItem,
    ledger_append_many,
    ledger_batch,
    ledger_verify,
    record_history,
)
from core.models import LedgerEntry, RefundPolicy
from core.refcache import reference_cache_clear
from core.selectors import policy_on
from core.transitions import transition
from customs.services import verification_create
from stores.models import FORM_TRANSITIONS, FormStatus, RefundForm, VatInvoice
from stores.services import refund_form_void
from tests.agencies.conftest import DOCUMENT, GOOD_CARD
from tests.factories import line, make_form, traveler

pytestmark = pytest.mark.django_db


def head_of_chain(record: Any) -> tuple[int, str]:
    last = record_history(record)[-1]
    return last.seq, last.entry_hash


def assert_row_head_exact_or_unset(record: Any) -> None:
    """A row's head is 0 (the chain is read at the next append) or its chain's last entry."""
    record.refresh_from_db()
    if record.ledger_seq:
        assert (record.ledger_seq, record.ledger_hash) == head_of_chain(record)


def test_a_transition_the_map_refuses_writes_nothing(demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="600.00"), who=traveler())
    before = LedgerEntry.objects.count()
    with pytest.raises(InvalidTransition):
        transition(
            form,
            to=FormStatus.REFUNDED,
            transitions=FORM_TRANSITIONS,
            actor=demo.clerk,
            action="form_refunded",
        )
    form.refresh_from_db()
    assert form.status == FormStatus.ISSUED
    assert LedgerEntry.objects.count() == before


def test_a_transition_saves_status_and_head_and_appends_from_to(demo):
    # given an issued form (its row carries no head yet: created with its first entry)
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="600.00"), who=traveler())
    locked = RefundForm.objects.select_for_update().get(pk=form.pk)
    assert locked.ledger_seq == 0
    # when it moves
    with CaptureQueriesContext(connection) as captured:
        entry = transition(
            locked,
            to=FormStatus.VERIFIED,
            transitions=FORM_TRANSITIONS,
            actor=demo.officer,
            action="form_verified",
            payload={"why": "test"},
        )
    # then one read of the chain (no head on the row yet), one UPDATE, one INSERT
    assert len(captured) == 3, [q["sql"] for q in captured.captured_queries]
    assert (entry.from_status, entry.to_status, entry.seq) == ("issued", "verified", 2)
    form.refresh_from_db()
    assert form.status == FormStatus.VERIFIED
    assert (form.ledger_seq, form.ledger_hash) == head_of_chain(form)
    # and the next move of the row needs no read: UPDATE + INSERT
    with CaptureQueriesContext(connection) as captured:
        transition(
            form,
            to=FormStatus.REFUNDED,
            transitions=FORM_TRANSITIONS,
            actor=demo.agent,
            action="form_refunded",
        )
    assert len(captured) == 2
    assert (form.ledger_seq, form.ledger_hash) == head_of_chain(form)
    assert ledger_verify().intact


def test_every_flow_leaves_row_heads_exact_and_the_ledger_verifiable(demo):
    # issue, verify and pay (cash and card), void another form with two invoices
    paid = []
    for method in ("cash", "bank_card"):
        form = make_form(demo.store_sh, demo.clerk, line(unit_price="600.00"), who=traveler())
        verification_create(
            port=demo.port,
            officer=demo.officer,
            form_number=form.number,
            qr=form.qr_payload,
            departure_date=timezone.localdate(),
        )
        refund = refund_pay(
            form_number=form.number,
            qr=form.qr_payload,
            document_number=DOCUMENT,
            payout_method=method,
            payout_account=GOOD_CARD if method != "cash" else None,
            agent=demo.agent,
            agency=demo.agency,
        )
        paid.append((form, refund))
    voided = make_form(demo.store_sh, demo.clerk, line(unit_price="600.00"), who=traveler())
    reds = refund_form_void(form=voided, clerk=demo.clerk, reason="Returned")

    for form, refund in paid:
        assert_row_head_exact_or_unset(form)
        assert_row_head_exact_or_unset(refund)
    # issued, verified (, refunded): each change after the first carried on the row
    assert [form.ledger_seq for form, _ in paid] == [2, 3]
    assert [e.action for e in record_history(paid[1][1])] == ["refund_created", "refund_paid"]
    assert [e.action for e in record_history(paid[0][1])] == [
        "refund_created",
        "refund_awaiting_handover",
    ]
    for invoice in VatInvoice.objects.filter(form=voided, kind="blue"):
        assert_row_head_exact_or_unset(invoice)
        assert [e.action for e in record_history(invoice)] == [
            "invoice_issued",
            "invoice_attached_to_form",
            "invoice_reversed",
        ]
        assert invoice.ledger_seq == 3
    assert [e.action for e in record_history(reds[0])] == ["invoice_issued"]
    assert ledger_verify().intact


def test_a_stale_head_fails_loudly_instead_of_forking_the_chain(demo):
    from django.db import IntegrityError

    form = make_form(demo.store_sh, demo.clerk, line(unit_price="600.00"), who=traveler())
    fresh = RefundForm.objects.get(pk=form.pk)
    transition(
        fresh,
        to=FormStatus.VERIFIED,
        transitions=FORM_TRANSITIONS,
        actor=demo.officer,
        action="form_verified",
    )
    stale = RefundForm.objects.get(pk=form.pk)
    stale.ledger_seq = 1  # an instance read before that change
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger_append_many([LedgerItem(record=stale, action="note")])
    assert ledger_verify().intact


def test_a_ledger_batch_inserts_its_entries_in_one_statement(demo):
    forms = [
        make_form(demo.store_sh, demo.clerk, line(unit_price="600.00"), who=traveler())
        for _ in range(3)
    ]
    locked = list(RefundForm.objects.select_for_update().filter(pk__in=[f.pk for f in forms]))
    for form in locked:  # heads known: no reads
        form.ledger_seq, form.ledger_hash = head_of_chain(form)
    with CaptureQueriesContext(connection) as captured, ledger_batch():
        for form in locked:
            transition(
                form,
                to=FormStatus.VERIFIED,
                transitions=FORM_TRANSITIONS,
                actor=demo.officer,
                action="form_verified",
            )
    inserts = [q for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert len(captured) == 4  # three UPDATEs, one INSERT
    assert ledger_verify().intact


def test_an_error_inside_a_ledger_batch_writes_no_entry(demo):
    form = make_form(demo.store_sh, demo.clerk, line(unit_price="600.00"), who=traveler())
    before = LedgerEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic(), ledger_batch():
        transition(
            RefundForm.objects.select_for_update().get(pk=form.pk),
            to=FormStatus.VERIFIED,
            transitions=FORM_TRANSITIONS,
            actor=demo.officer,
            action="form_verified",
        )
        raise RuntimeError("boom")
    assert LedgerEntry.objects.count() == before
    form.refresh_from_db()
    assert form.status == FormStatus.ISSUED


def test_reference_data_is_read_once_and_a_save_is_seen_at_once(demo):
    day = date(2026, 6, 1)
    reference_cache_clear()  # what the demo fixture wrote in this transaction is settled
    first = policy_on(day)
    with CaptureQueriesContext(connection) as captured:
        again = policy_on(day)
    assert len(captured) == 0
    assert again == first
    # an administrator changes the minimum: this process sees it without waiting
    row = RefundPolicy.objects.get(effective_from=first.effective_from)
    row.minimum_amount = Decimal("321.00")
    row.save()
    assert policy_on(day).minimum_amount == Decimal("321.00")
