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
from django.db import IntegrityError, transaction
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
    """A provider simulated in its own table (``SandboxTransfer``), idempotent by key."""

    DECLINE_SUFFIX = "0002"
    LOST_ANSWER_SUFFIX = "0003"
    UNAVAILABLE_ONCE_SUFFIX = "0004"

    def transfer(self, request: PayoutRequest) -> PayoutResult:
        """Execute the transfer once per key; replay the recorded outcome for a repeated key."""
        from agencies.models import SandboxTransfer

        account_hash = _account_hash(request.account)
        # The provider's own books: a separate short transaction, never the caller's.
        with transaction.atomic():
            try:
                with transaction.atomic():
                    SandboxTransfer.objects.create(
                        key=request.key,
                        method=request.method,
                        account_hash=account_hash,
                        account_masked=request.account_masked,
                        amount=request.amount,
                    )
            except IntegrityError:
                pass  # the key is known: fall through to the recorded row
            row = SandboxTransfer.objects.select_for_update().get(key=request.key)
            if (row.amount, row.account_hash, row.method) != (
                request.amount,
                account_hash,
                request.method,
            ):
                return PayoutResult(
                    succeeded=False,
                    code="idempotency_key_mismatch",
                    message="This key was already used for a different transfer.",
                )
            row.calls += 1
            if row.status == SandboxTransfer.Status.SUCCEEDED:
                row.save(update_fields=["calls"])
                return PayoutResult(succeeded=True, reference=row.reference)
            if row.status == SandboxTransfer.Status.DECLINED:
                row.save(update_fields=["calls"])
                return PayoutResult(
                    succeeded=False, code="declined", message="The payee account was declined."
                )
            account = request.account
            if account.endswith(self.UNAVAILABLE_ONCE_SUFFIX) and row.calls == 1:
                row.save(update_fields=["calls"])
                lost: PayoutError | None = PayoutError(
                    "The payout provider is unavailable.", "payout_unavailable"
                )
                result = None
            elif account.endswith(self.DECLINE_SUFFIX):
                row.status = SandboxTransfer.Status.DECLINED
                row.executed_at = timezone.now()
                row.save(update_fields=["calls", "status", "executed_at"])
                lost = None
                result = PayoutResult(
                    succeeded=False, code="declined", message="The payee account was declined."
                )
            else:
                row.status = SandboxTransfer.Status.SUCCEEDED
                row.reference = f"SBX-{row.pk:08d}"
                row.executed_at = timezone.now()
                row.save(update_fields=["calls", "status", "reference", "executed_at"])
                result = PayoutResult(succeeded=True, reference=row.reference)
                lost = None
                if account.endswith(self.LOST_ANSWER_SUFFIX) and row.calls == 1:
                    lost = PayoutError("The payout provider timed out.", "payout_timeout")
        delay = float(getattr(settings, "SANDBOX_GATEWAY_DELAY_SECONDS", 0) or 0)
        if delay:
            time.sleep(delay)  # the answer travels back: a crash now loses only the answer
        if lost is not None:
            raise lost
        assert result is not None
        return result
