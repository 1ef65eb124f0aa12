"""agencies.rows.update_if: the conditional UPDATE of the card refund's second transaction,
written once as SQL, changes a row exactly as the ORM's ``filter(...).update(...)``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.models import Refund
from agencies.rows import update_if
from stores.models import RefundForm
from tests.agencies.conftest import GOOD_CARD
from tests.agencies.test_payouts import pay

pytestmark = pytest.mark.django_db


def test_nothing_changes_when_the_row_does_not_hold_the_condition(demo: Any, verified_form):
    form = verified_form()
    before = RefundForm.objects.values().get(pk=form.pk)
    changed = update_if(
        RefundForm,
        form.pk,
        where={"status": form.status, "ledger_seq": form.ledger_seq + 1},
        values={"status": "refunded", "ledger_seq": form.ledger_seq + 1, "ledger_hash": "f" * 64},
    )
    assert changed == 0
    assert RefundForm.objects.values().get(pk=form.pk) == before
    # another form's primary key with this one's values: nothing either
    assert (
        update_if(
            RefundForm,
            form.pk + 1000,
            where={"status": form.status, "ledger_seq": form.ledger_seq},
            values={"ledger_hash": "f" * 64},
        )
        == 0
    )


def test_the_row_is_written_as_the_orm_writes_it(demo: Any, verified_form):
    # given two paid refunds, one changed by update_if and the other by the ORM
    ours, theirs = (pay(verified_form(), demo, GOOD_CARD) for _ in range(2))
    paid_at = timezone.now() - timedelta(minutes=3)
    values = {
        "paid_at": paid_at,
        "payout_reference": "REF-1",
        "failure_code": "",
        "failure_message": "Umlaut ü, 中文",
        "failure_definite": True,
    }
    with CaptureQueriesContext(connection) as captured:
        changed = update_if(
            Refund,
            ours.pk,
            where={"status": "paid", "payout_key": ours.payout_key, "ledger_seq": ours.ledger_seq},
            values=values,
        )
    assert changed == 1
    assert len(captured.captured_queries) == 1
    Refund.objects.filter(pk=theirs.pk, status="paid").update(**values)
    # then both rows read back the same values, to the microsecond
    fields = [*values, "status", "ledger_seq", "ledger_hash"]
    mine = Refund.objects.values(*fields).get(pk=ours.pk)
    orm = Refund.objects.values(*fields).get(pk=theirs.pk)
    assert mine["paid_at"] == orm["paid_at"] == paid_at
    assert {k: mine[k] for k in values} == {k: orm[k] for k in values}
    assert (mine["ledger_seq"], mine["ledger_hash"]) == (ours.ledger_seq, ours.ledger_hash)
