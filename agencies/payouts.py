"""The payout adapter: transfers to bank cards, Alipay and WeChat Pay.

``payout_gateway()`` returns the gateway named by ``settings.PAYOUT_GATEWAY``
(a dotted path; the sandbox by default). Every call carries the refund's
stored idempotency key, so a retry after a timeout can never pay twice: the
provider answers a repeated key with the outcome it recorded the first time.

The sandbox behaves like a real provider, deterministically by account:

- an account ending in ``0002`` is declined (a definite answer);
- one ending in ``0003`` is paid, but the first answer is lost (timeout after
  executing): a retry with the same key learns it was paid;
- one ending in ``0004`` is unavailable on the first call (nothing executed),
  then paid on the retry;
- anything else is paid at once.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string

DEFAULT_GATEWAY = "agencies.payouts.SandboxPayoutGateway"


@dataclass(frozen=True)
class PayoutRequest:
    """One transfer order: who is paid how much, under which idempotency key."""

    key: str
    method: str
    account: str
    account_masked: str
    amount: Decimal
    reference_text: str = ""


@dataclass(frozen=True)
class PayoutResult:
    """A definite answer: ``succeeded`` (with the provider's reference) or ``declined``."""

    succeeded: bool
    reference: str = ""
    code: str = ""
    message: str = ""


class PayoutError(Exception):
    """No definite answer (timeout, provider down): the outcome is unknown; retry the key."""

    def __init__(self, message: str, code: str = "payout_timeout") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PayoutGateway(Protocol):
    """What every payout provider adapter offers."""

    def transfer(self, request: PayoutRequest) -> PayoutResult:
        """Pay once per ``request.key``; raise PayoutError when the outcome is unknown."""
        ...


def payout_gateway() -> PayoutGateway:
    """The configured gateway (``settings.PAYOUT_GATEWAY``, sandbox by default)."""
    path = getattr(settings, "PAYOUT_GATEWAY", DEFAULT_GATEWAY) or DEFAULT_GATEWAY
    gateway: PayoutGateway = import_string(path)()
    return gateway


def _account_hash(account: str) -> str:
    return hashlib.sha256(account.encode()).hexdigest()


class SandboxPayoutGateway:
    """A provider simulated in its own table (``SandboxTransfer``), idempotent by key.

    Each call is one statement, as a call to a real provider costs its caller none of
    its own: an upsert keyed by the idempotency key (``INSERT ... ON CONFLICT (key) DO
    UPDATE ... RETURNING``). The first call records the transfer with its outcome; a
    repeated key counts the call and replays the recorded outcome (a transfer not
    executed on its first call is executed on a later one), atomically, however many
    calls race; a repeated key with another amount, account or method changes nothing.
    """

    DECLINE_SUFFIX = "0002"
    LOST_ANSWER_SUFFIX = "0003"
    UNAVAILABLE_ONCE_SUFFIX = "0004"

    def transfer(self, request: PayoutRequest) -> PayoutResult:
        """Execute the transfer once per key; replay the recorded outcome for a repeated key."""
        from agencies.models import SandboxTransfer

        account = request.account
        declined = account.endswith(self.DECLINE_SUFFIX)
        # The outcome of the call that executes the transfer: the first, except for an
        # account whose provider is down on the first call (then the next one).
        executed = SandboxTransfer.Status.DECLINED if declined else SandboxTransfer.Status.SUCCEEDED
        first = (
            SandboxTransfer.Status.NOT_EXECUTED
            if account.endswith(self.UNAVAILABLE_ONCE_SUFFIX)
            else executed
        )
        # The provider's own reference, fixed by the key (a repeated key gets the same).
        reference = "SBX-" + hashlib.sha256(request.key.encode()).hexdigest()[:12].upper()
        row = _sandbox_upsert(
            key=request.key,
            method=request.method,
            account_hash=_account_hash(account),
            account_masked=request.account_masked,
            amount=request.amount,
            first=first,
            executed=executed,
            reference=reference,
        )
        delay = float(getattr(settings, "SANDBOX_GATEWAY_DELAY_SECONDS", 0) or 0)
        if delay:
            time.sleep(delay)  # the answer travels back: a crash now loses only the answer
        if row is None:
            return PayoutResult(
                succeeded=False,
                code="idempotency_key_mismatch",
                message="This key was already used for a different transfer.",
            )
        status, stored_reference, calls = row
        if status == SandboxTransfer.Status.NOT_EXECUTED:
            raise PayoutError("The payout provider is unavailable.", "payout_unavailable")
        if status == SandboxTransfer.Status.DECLINED:
            return PayoutResult(
                succeeded=False, code="declined", message="The payee account was declined."
            )
        if calls == 1 and account.endswith(self.LOST_ANSWER_SUFFIX):
            raise PayoutError("The payout provider timed out.", "payout_timeout")
        return PayoutResult(succeeded=True, reference=stored_reference)


# One statement per call (SQLite >= 3.35 and PostgreSQL): the first call inserts the
# transfer with its outcome; a repeated key counts the call, executes a transfer not
# executed yet, and keeps any other outcome; another amount, account or method under a
# known key matches no row (nothing changed, nothing returned).
_SANDBOX_UPSERT = """INSERT INTO agencies_sandboxtransfer AS t
    ("key", method, account_hash, account_masked, amount, status, reference, calls,
     created_at, executed_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s, %s)
ON CONFLICT ("key") DO UPDATE SET
    calls = t.calls + 1,
    status = CASE WHEN t.status = 'not_executed' THEN %s ELSE t.status END,
    reference = CASE WHEN t.status = 'not_executed' THEN %s ELSE t.reference END,
    executed_at = CASE WHEN t.status = 'not_executed' THEN %s ELSE t.executed_at END
WHERE t.amount = EXCLUDED.amount
    AND t.account_hash = EXCLUDED.account_hash
    AND t.method = EXCLUDED.method
RETURNING status, reference, calls
"""


def _sandbox_upsert(
    *,
    key: str,
    method: str,
    account_hash: str,
    account_masked: str,
    amount: Decimal,
    first: str,
    executed: str,
    reference: str,
) -> tuple[str, str, int] | None:
    """Record a call for ``key`` in one statement; (status, reference, calls) after it.

    None when the key is known for another amount, account or method (nothing changed).
    The gateway is never called inside a transaction: the statement is its own, and
    concurrent calls with one key serialize on its row.
    """
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    money = ops.adapt_decimalfield_value(amount, 14, 2)

    def reference_if(status: str) -> str:
        return reference if status == "succeeded" else ""

    params = [
        key,
        method,
        account_hash,
        account_masked,
        money,
        first,
        reference_if(first),
        now,
        None if first == "not_executed" else now,
        executed,
        reference_if(executed),
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_SANDBOX_UPSERT, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return str(row[0]), str(row[1]), int(row[2])
