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

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
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
    """A card gateway simulated in its own table (``SandboxCardOperation``), idempotent by key."""

    APPROVING = {"tok_visa": 7, "tok_flaky": 7, "tok_short_hold": 5}
    DECLINING = "tok_declined"
    FLAKY = "tok_flaky"
    FLAKY_FAILURES = 2

    def execute(self, request: CardRequest) -> CardResult:
        """Execute the operation once per key; replay the recorded outcome for a repeated key."""
        from agencies.models import SandboxCardOperation

        with transaction.atomic():
            try:
                with transaction.atomic():
                    SandboxCardOperation.objects.create(
                        key=request.key,
                        kind=request.kind,
                        token=request.token,
                        amount=request.amount,
                        hold_reference=request.hold_reference,
                    )
            except IntegrityError:
                pass  # the key is known: fall through to the recorded row
            row = SandboxCardOperation.objects.select_for_update().get(key=request.key)
            if (row.kind, row.token, row.amount) != (request.kind, request.token, request.amount):
                return CardResult(
                    succeeded=False,
                    code="idempotency_key_mismatch",
                    message="This key was already used for a different operation.",
                )
            row.calls += 1
            if row.status != SandboxCardOperation.Status.NOT_EXECUTED:
                row.save(update_fields=["calls"])
                return self._result(row)
            if request.token == self.FLAKY and row.calls <= self.FLAKY_FAILURES:
                row.save(update_fields=["calls"])
                timeout: CardGatewayError | None = CardGatewayError(
                    "The card gateway timed out.", "card_gateway_timeout"
                )
            else:
                timeout = None
                code = self._decline_code(request)
                row.executed_at = timezone.now()
                if code:
                    row.status = SandboxCardOperation.Status.DECLINED
                    row.decline_code = code
                else:
                    row.status = SandboxCardOperation.Status.SUCCEEDED
                    row.reference = f"SBXC-{row.pk:08d}"
                    if request.kind == "authorize":
                        days = self.APPROVING[request.token]
                        row.expires_at = request.requested_at + timedelta(days=days)
                    if request.kind == "release":
                        SandboxCardOperation.objects.filter(
                            reference=request.hold_reference, kind="authorize"
                        ).update(released_at=row.executed_at)
                row.save()
        delay = float(getattr(settings, "SANDBOX_GATEWAY_DELAY_SECONDS", 0) or 0)
        if delay:
            time.sleep(delay)  # the answer travels back: a crash now loses only the answer
        if timeout is not None:
            raise timeout
        return self._result(row)

    def _decline_code(self, request: CardRequest) -> str:
        from agencies.models import SandboxCardOperation

        if request.kind in ("authorize", "charge"):
            if request.token == self.DECLINING:
                return "card_declined"
            if request.token not in self.APPROVING:
                return "unknown_token"
            return ""
        hold = SandboxCardOperation.objects.filter(
            reference=request.hold_reference,
            kind="authorize",
            status=SandboxCardOperation.Status.SUCCEEDED,
        ).first()
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
    def _result(row: object) -> CardResult:
        from agencies.models import SandboxCardOperation

        assert isinstance(row, SandboxCardOperation)
        if row.status == SandboxCardOperation.Status.SUCCEEDED:
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
