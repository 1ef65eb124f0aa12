"""Buy & Refund API: POST /api/v1/forms/{number}/prepayment/ (and its return), form sections.

Views parse, call one service, render. The form detail (GET /api/v1/forms/{n}/)
gets ``prepayment`` and ``guarantee`` sections through the stores hook.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.models import (
    Guarantee,
    GuaranteeOperation,
    GuaranteeStatus,
    OperationKind,
    OperationStatus,
    PayoutMethod,
    Prepayment,
    PrepaymentStatus,
)
from buyrefund.services import prepayment_handover, prepayment_pay, prepayment_return
from core.api.errors import error_body
from core.api.idempotency import (
    Resolution,
    current_attempt,
    idempotent,
    record_attempt,
    register_resolver,
)
from core.api.permissions import IsClerk, request_store
from core.api.schema import error_response
from core.api.serializers import StrictCharField, StrictSerializer
from core.models import IdempotencyRecord
from core.money import ZERO, money_str
from stores.models import RefundForm

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Same key and body replay the first answer; same key, other body: 422.",
)


class PrepaymentRequestSerializer(StrictSerializer):
    """POST /forms/{number}/prepayment/ body: a card TOKEN (never a number)."""

    card_token = StrictCharField(max_length=64)
    card_holder_name = StrictCharField(max_length=200)
    payout_method = serializers.ChoiceField(choices=PayoutMethod.choices)


class PrepaymentSerializer(serializers.Serializer):
    """The prepayment paid to the traveler."""

    amount = serializers.CharField()
    status = serializers.CharField()
    payout_method = serializers.CharField()
    paid_at = serializers.DateTimeField(allow_null=True)
    handed_over_by = serializers.CharField(allow_null=True)
    handed_over_at = serializers.DateTimeField(allow_null=True)


class GuaranteeSerializer(serializers.Serializer):
    """The card guarantee (pre-authorization) behind a prepayment."""

    status = serializers.CharField()
    amount = serializers.CharField()
    deadline = serializers.DateField()
    grace_until = serializers.DateField()
    hold_expires_at = serializers.DateTimeField(allow_null=True)
    captured_amount = serializers.CharField()


class PrepaymentReplySerializer(serializers.Serializer):
    """POST /forms/{number}/prepayment/ reply."""

    prepayment = PrepaymentSerializer()
    guarantee = GuaranteeSerializer()


def prepayment_body(prepayment: Prepayment) -> dict[str, Any]:
    """The prepayment as the API shows it (money as 2-decimal strings)."""
    return {
        "amount": money_str(prepayment.amount),
        "status": prepayment.status,
        "payout_method": prepayment.payout_method,
        "paid_at": prepayment.paid_at.isoformat() if prepayment.paid_at else None,
        "handed_over_by": prepayment.handed_over_by.get_username()
        if prepayment.handed_over_by
        else None,
        "handed_over_at": prepayment.handed_over_at.isoformat()
        if prepayment.handed_over_at
        else None,
    }


def guarantee_body(guarantee: Guarantee) -> dict[str, Any]:
    """The guarantee as the API shows it (money as 2-decimal strings)."""
    return {
        "status": guarantee.status,
        "amount": money_str(guarantee.amount),
        "deadline": guarantee.deadline.isoformat(),
        "grace_until": guarantee.grace_until.isoformat(),
        "hold_expires_at": guarantee.hold_expires_at.isoformat()
        if guarantee.hold_expires_at
        else None,
        "captured_amount": money_str(guarantee.captured_amount),
    }


def _reply(prepayment: Prepayment) -> dict[str, Any]:
    """The reply body (``PrepaymentReplySerializer``'s shape), from the rows in hand: the
    services return the prepayment with its guarantee."""
    return {
        "prepayment": prepayment_body(prepayment),
        "guarantee": guarantee_body(prepayment.guarantee),
    }


def _first_reply(prepayment: Prepayment) -> dict[str, Any]:
    """The 201 the request that created ``prepayment`` answered, exactly, whatever became of
    it since: its authorization placed the hold (nothing captured yet) and paid it out, or
    left cash awaiting handover (never "paid" in that answer: only the creating request
    says "hand over now", and its replay says the same)."""
    guarantee = prepayment.guarantee
    hold_expires_at = (
        GuaranteeOperation.objects.filter(
            guarantee=guarantee, kind=OperationKind.AUTHORIZE, status=OperationStatus.SUCCEEDED
        )
        .values_list("hold_expires_at", flat=True)
        .first()
    )
    cash = prepayment.payout_method == PayoutMethod.CASH
    return {
        "prepayment": {
            **prepayment_body(prepayment),
            "status": PrepaymentStatus.AWAITING_HANDOVER if cash else PrepaymentStatus.PAID,
            "paid_at": None if cash else prepayment_body(prepayment)["paid_at"],
            "handed_over_by": None,
            "handed_over_at": None,
        },
        "guarantee": {
            **guarantee_body(guarantee),
            "status": GuaranteeStatus.AUTHORIZED,
            "hold_expires_at": hold_expires_at.isoformat() if hold_expires_at else None,
            "captured_amount": money_str(ZERO),
        },
    }


def prepayment_resolution(record: IdempotencyRecord) -> Resolution:
    """The answer a prepayment request gets from the prepayment it made.

    The POST (``answered_by``) stores no success answer: its record is bound by
    attempt (no resource id) and its own prepayment, one per request, is found by
    ``attempt``; its 201 is rebuilt exactly (``_first_reply``). Pending (the
    authorization got no answer): the same request runs again and resumes the stored
    key. Otherwise the answer it would have had. Records bound to a prepayment's id
    (before issue 12, and the return) answer with its state now.
    """
    by_attempt = not record.resource_id
    rows = Prepayment.objects.select_related("guarantee", "handed_over_by")
    if by_attempt:
        prepayment = rows.filter(attempt=record_attempt(record)).first()
    else:
        prepayment = rows.filter(pk=record.resource_id).first()
    if prepayment is None:
        return Resolution(rerun=True, unbound=by_attempt)
    if prepayment.status == PrepaymentStatus.PENDING:
        return Resolution(rerun=True)
    returning = record.path.rstrip("/").endswith("/return")
    if prepayment.status == PrepaymentStatus.FAILED and not returning:
        guarantee = Guarantee.objects.get(prepayment=prepayment)
        code = "card_declined" if guarantee.status == "failed" else "prepayment_abandoned"
        return Resolution(
            final=True,
            status=422 if code == "card_declined" else 409,
            body=error_body(
                code,
                "The card was declined: nothing was paid."
                if code == "card_declined"
                else "The authorization was never answered in time and was undone:"
                " nothing was paid.",
                {"reason": guarantee.failure_code or code, "guarantee": guarantee.status},
            ),
        )
    if by_attempt and not returning:
        return Resolution(final=True, status=201, body=_first_reply(prepayment))
    return Resolution(final=True, status=200 if returning else 201, body=_reply(prepayment))


class PrepaymentView(APIView):
    """Pay a Buy & Refund prepayment against a card guarantee, once per form."""

    permission_classes = [IsClerk]

    @extend_schema(
        operation_id="forms_prepayment",
        summary="Pay the Buy & Refund prepayment (card pre-authorization as guarantee)",
        parameters=[IDEMPOTENCY_KEY],
        request=PrepaymentRequestSerializer,
        responses={
            201: PrepaymentReplySerializer,
            400: error_response(
                "Malformed: invalid_card_token (a card number), invalid_payout_method."
            ),
            401: error_response("Not authenticated."),
            403: error_response("Only a clerk may do this."),
            404: error_response("No such form at your store."),
            409: error_response(
                "prepayment_exists (extra.prepayment: its true status), prepayment_in_progress,"
                " prepayment_abandoned, form_not_prepayable, idempotency_in_progress"
                " (Retry-After)"
            ),
            422: error_response(
                "card_declined, not_buy_and_refund_store, card_holder_mismatch,"
                " cash_limit_exceeded, idempotency_key_reused"
            ),
            503: error_response(
                "card_gateway_unavailable: nothing paid; send the same request again."
            ),
        },
    )
    @idempotent(resolve=prepayment_resolution, answered_by=Prepayment._meta.label_lower)
    def post(self, request: Request, number: str) -> Response:
        data = PrepaymentRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        store = request_store(request)
        prepayment = prepayment_pay(
            form_number=number,
            clerk=request.user,  # type: ignore[arg-type]
            store=store,
            card_token=body["card_token"],
            card_holder_name=body["card_holder_name"],
            payout_method=body["payout_method"],
            attempt=current_attempt(),
        )
        return Response(_reply(prepayment), status=201)


class PrepaymentReturnView(APIView):
    """The traveler returned the prepayment (goods returned): release the guarantee."""

    permission_classes = [IsClerk]

    @extend_schema(
        operation_id="forms_prepayment_return",
        summary="Record a returned prepayment (then the form may be voided)",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={
            200: PrepaymentReplySerializer,
            404: error_response("No such form at your store."),
            409: error_response("prepayment_not_returnable"),
        },
    )
    @idempotent(resolve=prepayment_resolution)
    def post(self, request: Request, number: str) -> Response:
        store = request_store(request)
        prepayment = prepayment_return(
            form_number=number,
            clerk=request.user,  # type: ignore[arg-type]
            store=store,
        )
        return Response(_reply(prepayment))


class PrepaymentHandoverView(APIView):
    """The clerk confirms the cash prepayment left the drawer (awaiting_handover -> paid)."""

    permission_classes = [IsClerk]

    @extend_schema(
        operation_id="forms_prepayment_handover",
        summary="Confirm the cash prepayment was handed over to the traveler",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={
            200: PrepaymentReplySerializer,
            404: error_response("No such form at your store."),
            409: error_response("prepayment_not_awaiting_handover"),
        },
    )
    @idempotent
    def post(self, request: Request, number: str) -> Response:
        store = request_store(request)
        prepayment = prepayment_handover(
            form_number=number,
            clerk=request.user,  # type: ignore[arg-type]
            store=store,
        )
        return Response(_reply(prepayment))


# --- Form detail sections ----------------------------------------------------------------


def _shown_prepayment(form: RefundForm) -> Prepayment | None:
    """The form's live prepayment, else its latest declined attempt."""
    if not form.buy_and_refund:
        return None
    prepayments = list(Prepayment.objects.filter(form=form).select_related("guarantee"))
    live = [p for p in prepayments if p.status != PrepaymentStatus.FAILED]
    return live[0] if live else (prepayments[0] if prepayments else None)


def prepayment_section(form: RefundForm) -> dict[str, Any] | None:
    """``prepayment`` on the form detail: amount, status, payout method, paid at."""
    prepayment = _shown_prepayment(form)
    return prepayment_body(prepayment) if prepayment else None


def guarantee_section(form: RefundForm) -> dict[str, Any] | None:
    """``guarantee`` on the form detail: status, amount, deadline, hold expiry, captured."""
    prepayment = _shown_prepayment(form)
    return guarantee_body(prepayment.guarantee) if prepayment else None


def register() -> None:
    """Hook the sections into the stores form detail and the guard into voids."""
    from buyrefund.services import prepayment_void_guard
    from stores.api.serializers import register_form_section
    from stores.services import register_void_guard

    register_resolver("agencies.prepayment", prepayment_resolution)
    register_form_section("prepayment", prepayment_section, PrepaymentSerializer)
    register_form_section("guarantee", guarantee_section, GuaranteeSerializer)
    register_void_guard(prepayment_void_guard)
