"""The card gateway adapter: pre-authorizations (holds), captures, charges, releases.

``card_gateway()`` returns the gateway named by ``settings.CARD_GATEWAY`` (a
dotted path; the sandbox by default). Every call carries an idempotency key
stored before the call, so a retry after a timeout never charges twice: the
gateway answers a repeated key with the outcome it recorded the first time.

The sandbox behaves deterministically by card token:

- ``tok_visa`` approves (holds last 7 days);
- ``tok_declined`` declines authorizations and charges;
- ``tok_flaky`` times out on the first two calls of each key (nothing
  executed), then approves;
- ``tok_short_hold`` approves with holds that expire after 5 days;
- any other token is declined (``unknown_token``).

A release marks the hold it lets go (``released_at``): a later capture of it is
declined (``hold_released``). ``calls`` on each row counts every call with its key,
replays included, so tests count gateway calls rather than rows.
``settings.SANDBOX_GATEWAY_DELAY_SECONDS`` delays each answer after the operation
is recorded: the fault-injection tests kill a process in that gap.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from hashlib import sha256
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

DEFAULT_GATEWAY = "agencies.cards.SandboxCardGateway"


@dataclass(frozen=True)
class CardRequest:
    """One gateway operation under one idempotency key.

    ``kind`` is authorize, capture, charge or release; ``hold_reference`` names
    the hold a capture or release acts on; ``requested_at`` is the business time
    of the call (the sandbox dates its holds from it).
    """

    key: str
    kind: str
    token: str
    amount: Decimal
    requested_at: datetime
    hold_reference: str = ""
    holder_name: str = ""


@dataclass(frozen=True)
class CardResult:
    """A definite answer: ``succeeded`` (reference, hold expiry for a hold) or declined."""

    succeeded: bool
    reference: str = ""
    hold_expires_at: datetime | None = None
    code: str = ""
    message: str = ""


class CardGatewayError(Exception):
    """No definite answer (timeout, gateway down): the outcome is unknown; re-send the key."""

    def __init__(self, message: str, code: str = "card_gateway_timeout") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CardGateway(Protocol):
    """What every card gateway adapter offers: one idempotent call per operation key."""

    def execute(self, request: CardRequest) -> CardResult:
        """Execute once per ``request.key``; raise CardGatewayError when the outcome is unknown."""
        ...


def card_gateway() -> CardGateway:
    """The configured gateway (``settings.CARD_GATEWAY``, sandbox by default)."""
    path = getattr(settings, "CARD_GATEWAY", DEFAULT_GATEWAY) or DEFAULT_GATEWAY
    gateway: CardGateway = import_string(path)()
    return gateway


class SandboxCardGateway:
    """A card gateway simulated in its own table (``SandboxCardOperation``), idempotent by key.

    A call is one statement: an upsert keyed by the idempotency key that records the
    call, executes the operation if it is due (first call; a flaky token's third) and
    answers with the row (RETURNING), committed before the answer travels back. A
    capture or release reads its hold first and, in the same short transaction, marks
    a released hold, as an acquirer books both at once.
    """

    APPROVING = {"tok_visa": 7, "tok_flaky": 7, "tok_short_hold": 5}
    DECLINING = "tok_declined"
    FLAKY = "tok_flaky"
    FLAKY_FAILURES = 2

    def execute(self, request: CardRequest) -> CardResult:
        """Execute the operation once per key; replay the recorded outcome for a repeated key."""
        if request.kind in ("authorize", "charge"):
            row = self._record(request, self._decline_code(request))
        else:
            with transaction.atomic():
                row = self._record(request, self._decline_code(request))
                if (
                    row is not None
                    and request.kind == "release"
                    and self._executed_now(request, row)
                    and row.status == _SUCCEEDED
                ):
                    _sandbox_model().objects.filter(
                        reference=request.hold_reference, kind="authorize"
                    ).update(released_at=row.executed_at)
        delay = float(getattr(settings, "SANDBOX_GATEWAY_DELAY_SECONDS", 0) or 0)
        if delay:
            time.sleep(delay)  # the answer travels back: a crash now loses only the answer
        if row is None:
            return CardResult(
                succeeded=False,
                code="idempotency_key_mismatch",
                message="This key was already used for a different operation.",
            )
        if row.status == _NOT_EXECUTED:
            raise CardGatewayError("The card gateway timed out.", "card_gateway_timeout")
        return self._result(row)

    def _failures(self, request: CardRequest) -> int:
        """Calls of one key that time out (nothing executed) before it executes."""
        return self.FLAKY_FAILURES if request.token == self.FLAKY else 0

    def _executed_now(self, request: CardRequest, row: Any) -> bool:
        return bool(row.status != _NOT_EXECUTED and row.calls == self._failures(request) + 1)

    def _record(self, request: CardRequest, code: str) -> Any:
        """The upsert: the key's row after this call (None: the key names another operation)."""
        model = _sandbox_model()
        now = timezone.now()
        outcome = {
            "status": _DECLINED if code else _SUCCEEDED,
            "reference": "" if code else "SBXC-" + sha256(request.key.encode()).hexdigest()[:12],
            "expires_at": (
                request.requested_at + timedelta(days=self.APPROVING[request.token])
                if not code and request.kind == "authorize"
                else None
            ),
            "decline_code": code,
            "executed_at": now,
        }
        first = (
            outcome
            if self._failures(request) == 0
            else {
                "status": _NOT_EXECUTED,
                "reference": "",
                "expires_at": None,
                "decline_code": "",
                "executed_at": None,
            }
        )
        inserted = {
            "key": request.key,
            "kind": request.kind,
            "token": request.token,
            "amount": request.amount,
            "hold_reference": request.hold_reference,
            **first,
            "created_at": now,
        }
        params = [_prep(model, name, inserted[name]) for name in _INSERTED]
        params += [_prep(model, name, outcome[name]) for name in _OUTCOME]
        rows = list(model.objects.raw(_upsert_sql(self._failures(request)), params))
        return rows[0] if rows else None

    def _decline_code(self, request: CardRequest) -> str:
        if request.kind in ("authorize", "charge"):
            if request.token == self.DECLINING:
                return "card_declined"
            if request.token not in self.APPROVING:
                return "unknown_token"
            return ""
        # Locked: a capture and a release of one hold are booked one after the other.
        hold = (
            _sandbox_model()
            .objects.select_for_update()
            .filter(reference=request.hold_reference, kind="authorize", status=_SUCCEEDED)
            .first()
        )
        if hold is None or hold.token != request.token:
            return "unknown_hold"
        if hold.released_at is not None:
            return "hold_released"
        if request.kind == "capture":
            if request.amount > hold.amount:
                return "amount_over_hold"
            if hold.expires_at is not None and request.requested_at >= hold.expires_at:
                return "hold_expired"
        return ""

    @staticmethod
    def _result(row: Any) -> CardResult:
        if row.status == _SUCCEEDED:
            return CardResult(
                succeeded=True, reference=row.reference, hold_expires_at=row.expires_at
            )
        messages = {
            "card_declined": "The card was declined.",
            "unknown_token": "The card token is not known to the gateway.",
            "unknown_hold": "No such hold.",
            "amount_over_hold": "The amount is over the hold.",
            "hold_expired": "The hold has expired.",
            "hold_released": "The hold was released.",
        }
        return CardResult(
            succeeded=False,
            code=row.decline_code,
            message=messages.get(row.decline_code, "Declined."),
        )


_NOT_EXECUTED, _SUCCEEDED, _DECLINED = "not_executed", "succeeded", "declined"
# The columns an upsert sets when the operation executes on this call.
_OUTCOME = ("status", "reference", "expires_at", "decline_code", "executed_at")
_INSERTED = ("key", "kind", "token", "amount", "hold_reference", *_OUTCOME, "created_at")


def _sandbox_model() -> Any:
    from agencies.models import SandboxCardOperation

    return SandboxCardOperation


def _prep(model: Any, name: str, value: Any) -> Any:
    """A value as the database takes it (what the ORM would send for that field)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


@functools.cache
def _upsert_sql(failures: int) -> str:
    """INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING: one call of one key, one statement.

    A new key executes at once unless its first ``failures`` calls time out; a known key
    counts the call and executes on the call that makes it due (never twice: only while
    the row is ``not_executed``). A known key sent for another operation (kind, token or
    amount differ) changes nothing and returns no row. SQLite and PostgreSQL alike.
    """
    model = _sandbox_model()
    q = connection.ops.quote_name
    table = q(model._meta.db_table)

    def col(name: str) -> str:
        return f"{table}.{q(name)}"

    due = f"{col('status')} = '{_NOT_EXECUTED}' AND {col('calls')} + 1 > {int(failures)}"
    sets = ",\n  ".join(
        f"{q(name)} = CASE WHEN {due} THEN %s ELSE {col(name)} END" for name in _OUTCOME
    )
    same = " AND ".join(f"{col(n)} = excluded.{q(n)}" for n in ("kind", "token", "amount"))
    returning = ", ".join(q(f.column) for f in model._meta.concrete_fields)
    return (
        f"INSERT INTO {table} ({', '.join(q(n) for n in _INSERTED)}, {q('calls')})\n"
        f"VALUES ({', '.join('%s' for _ in _INSERTED)}, 1)\n"
        f"ON CONFLICT ({q('key')}) DO UPDATE SET\n  {q('calls')} = {col('calls')} + 1,\n"
        f"  {sets}\nWHERE {same}\nRETURNING {returning}"
    )
