"""Tax authority writes: the store registry (through the admin) and the read audit.

The analyst reads only; the registry is changed by an administrator, each change
a new effective-dated row with its ledger entry on the store.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from authority.exceptions import StoreNotFiled
from authority.models import AuthorityRead, FilingStatus, StoreFiling, TaxpayerRating
from authority.selectors import store_filing_on
from core.exceptions import BadRequest
from core.ledger import ledger_append
from core.models import Store

# Stores in the directory before the registry existed were filed from this day.
REGISTRY_EPOCH = date(2015, 1, 1)


def _invalid(field: str, message: str) -> BadRequest:
    return BadRequest(message, "invalid", {"fields": {field: [message]}})


@transaction.atomic
def store_filing_change(
    *,
    store: Store,
    status: str,
    rating: str,
    effective_from: date,
    actor: Any = None,
    filed_on: date | None = None,
    filing_number: str = "",
    note: str = "",
    allow_past: bool = False,
) -> StoreFiling:
    """Record a store's filing state from ``effective_from`` (file, re-rate, suspend, exit).

    A change takes effect today or later (history is not rewritten), except for
    the initial filing of a store created in the directory (``allow_past``).
    """
    if status not in FilingStatus.values:
        raise _invalid("status", f"{status!r} is not a filing status.")
    if rating not in TaxpayerRating.values:
        raise _invalid("rating", f"{rating!r} is not a taxpayer rating (A, B or M).")
    today = timezone.localdate()
    if effective_from < today and not allow_past:
        raise _invalid("effective_from", "A registry change takes effect today or later.")
    locked = Store.objects.select_for_update().get(pk=store.pk)
    current = store_filing_on(store_id=locked.pk, day=effective_from)
    first_filed = filed_on or (current.filed_on if current else effective_from)
    if first_filed > effective_from:
        raise _invalid("filed_on", "The filing date is after the change takes effect.")
    filing = StoreFiling(
        store=locked,
        effective_from=effective_from,
        status=status,
        rating=rating,
        filing_number=filing_number.strip()
        or (current.filing_number if current else f"BA-{locked.code}"),
        filed_on=first_filed,
        note=note.strip(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    filing.full_clean(exclude=["store", "created_by"])
    filing.save()
    ledger_append(
        record=locked,
        action="store_filing_changed",
        actor=actor,
        from_status=current.status if current else "",
        to_status=status,
        payload={
            "store": locked.code,
            "effective_from": effective_from,
            "status": status,
            "rating": rating,
            "filing_number": filing.filing_number,
            "filed_on": filing.filed_on,
            "note": filing.note,
        },
    )
    return filing


def store_file_new(*, store: Store) -> StoreFiling | None:
    """File a store just added to the directory: filed, rated M (newly opened), from today."""
    if StoreFiling.objects.filter(store=store).exists():
        return None
    today = timezone.localdate()
    return store_filing_change(
        store=store,
        status=FilingStatus.FILED,
        rating=TaxpayerRating.M,
        effective_from=today,
        filed_on=today,
        note="Filed when added to the directory.",
        actor="system",
    )


def store_filing_guard(*, store: Store, day: date) -> None:
    """Refuse a form dated ``day`` at a store that is not filed that day (422 store_not_filed)."""
    filing = store_filing_on(store_id=store.pk, day=day)
    store_filing_status_check(store=store, day=day, status=filing.status if filing else None)


def store_filing_status_check(*, store: Store, day: date, status: str | None) -> None:
    """``store_filing_guard`` given the filing status in force on ``day`` (None: never filed)."""
    if status != FilingStatus.FILED:
        shown = status or "not_filed"
        raise StoreNotFiled(
            f"Store {store.code} is not filed with the tax authority on {day.isoformat()}"
            f" ({shown}): it cannot issue refund forms.",
            extra={"store": store.code, "date": day.isoformat(), "status": shown},
        )


def authority_read_record(*, user: Any, what: str, detail: str = "", channel: str = "page") -> None:
    """Record one read (who, when, what). Never carries a document or card number.

    The one place every authority read goes through, so it can later point at the
    platform-wide read audit.
    """
    AuthorityRead.objects.create(user=user, what=what[:64], detail=detail[:300], channel=channel)
