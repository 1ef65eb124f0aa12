"""One way to change a record's status: check the map, set it, save it, write the ledger.

Every stateful model has one transition map (``core.state.TransitionMap``); a service
that moves a record calls ``transition`` inside its transaction, holding the record's row
lock. The ledger head the record carries (``core.models.LedgerHead``) moves in the same
UPDATE as the status, so the ledger entry costs one INSERT and no read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from core.ledger import LedgerItem, ledger_entries_build, ledger_entries_save
from core.models import LEDGER_HEAD_FIELDS, LedgerEntry, LedgerHead
from core.state import TransitionMap


def transition(
    record: models.Model,
    *,
    to: str,
    transitions: TransitionMap,
    actor: Any,
    action: str,
    payload: dict[str, Any] | None = None,
    fields: Iterable[str] | None = (),
    code: str | None = None,
    check: bool = True,
    from_status: str | None = None,
) -> LedgerEntry:
    """Move ``record`` to status ``to``: check the map, save the status (and ``fields``
    set by the caller), append the ledger entry with from/to. Returns the entry.

    ``check=False`` when the caller checked already (with its own error); ``from_status``
    overrides the status recorded as the entry's origin (default: the record's current
    one). ``fields`` are saved with the status (``updated_at`` is not added for you);
    ``fields=None`` saves the whole row.
    """
    current: str = record.status  # type: ignore[attr-defined]
    if check:
        transitions.check(current, to, code=code)
    entry = transition_prepare(
        record,
        to=to,
        actor=actor,
        action=action,
        payload=payload,
        from_status=current if from_status is None else from_status,
    )
    if fields is None:
        record.save()
    else:
        update_fields = ["status", *fields]
        if isinstance(record, LedgerHead):
            update_fields += LEDGER_HEAD_FIELDS
        record.save(update_fields=list(dict.fromkeys(update_fields)))
    ledger_entries_save([entry])
    return entry


def transition_prepare(
    record: models.Model,
    *,
    to: str,
    actor: Any,
    action: str,
    payload: dict[str, Any] | None = None,
    from_status: str,
) -> LedgerEntry:
    """Set the status and the in-memory ledger head; the entry built, not yet saved."""
    entry = ledger_entries_build(
        [
            LedgerItem(
                record=record,
                action=action,
                actor=actor,
                from_status=from_status,
                to_status=to,
                payload=payload,
            )
        ]
    )[0]
    record.status = to  # type: ignore[attr-defined]
    return entry
