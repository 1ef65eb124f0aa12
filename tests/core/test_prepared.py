"""core.prepared: queries compiled once give what the ORM would, with no extra reads."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.selectors import counter_form_lock, counter_lines, counter_verification
from customs.models import Verification
from customs.services import verification_create
from stores.models import RefundForm
from tests.factories import line, make_form, traveler

pytestmark = pytest.mark.django_db


def test_a_form_with_its_store_verification_and_port_in_one_statement(demo):
    form = make_form(demo.store_sh, demo.clerk, line(), line(), who=traveler())
    verification_create(
        port=demo.port,
        officer=demo.officer,
        form_number=form.number,
        qr=form.qr_payload,
        departure_date=timezone.localdate(),
    )
    orm = (
        RefundForm.objects.select_related("store", "verification", "verification__port")
        .filter(number=form.number)
        .get()
    )
    for _ in range(2):  # compiled on the first call, reused on the second
        with CaptureQueriesContext(connection) as captured:
            found = counter_form_lock(number=form.number)
            assert found is not None
            verification = counter_verification(found)
            assert verification is not None
            port_code = verification.port.code
            store_code = found.store.code
        assert len(captured.captured_queries) == 1
        assert [getattr(found, f.attname) for f in RefundForm._meta.concrete_fields] == [
            getattr(orm, f.attname) for f in RefundForm._meta.concrete_fields
        ]
        assert (store_code, port_code, verification.pk) == (
            orm.store.code,
            orm.verification.port.code,
            orm.verification.pk,
        )
        numbers = found.invoice_numbers.split(",")  # type: ignore[attr-defined]
        assert sorted(numbers) == sorted(form.invoices.values_list("number", flat=True))


def test_a_missing_reverse_one_to_one_is_known_missing_without_a_query(demo):
    form = make_form(demo.store_sh, demo.clerk, line(), who=traveler())
    found = counter_form_lock(number=form.number)
    assert found is not None
    with CaptureQueriesContext(connection) as captured:
        assert counter_verification(found) is None
        with pytest.raises(Verification.DoesNotExist):
            found.verification  # noqa: B018
        lines, facts = counter_lines(found, None)
    assert len(captured.captured_queries) == 1  # the lines, nothing else
    assert [item.position for item in lines] == [1]
    assert (facts.live_refund_id, facts.prepayment_paid, facts.verification_id) == (
        None,
        False,
        None,
    )


def test_an_unknown_number_finds_nothing(demo):
    assert counter_form_lock(number="000000000000") is None
