"""Agency API (SPEC §4): pay refunds, check before paying, list, settlement downloads.

Views parse, call one service or selector, render.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, renderers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.api.serializers import (
    RefundCheckRequestSerializer,
    RefundCheckSerializer,
    RefundRequestSerializer,
    RefundSerializer,
    SettlementSerializer,
    assessment_body,
)
from agencies.exceptions import RefundNotFound
from agencies.models import Refund, RefundStatus
from agencies.selectors import refunds_for_agency, refunds_in_scope
from agencies.services import refund_check, refund_handover, refund_pay, refund_retry
from agencies.settlement import (
    parse_period,
    settlement_csv,
    settlement_filename,
    settlement_for,
    settlement_xlsx,
)
from core.api.errors import error_body
from core.api.idempotency import Resolution, idempotent, register_resolver
from core.api.permissions import IsAgent, IsAnalyst, request_membership
from core.api.schema import error_response
from core.exceptions import BadRequest
from core.models import IdempotencyRecord
from stores.models import RefundForm
from stores.scopes import ReadReason, document_number_for, personal_data_reads_record


class IsAgentOrAnalystReading(BasePermission):
    """Writes: an agent. Reads: an agent (their agency's refunds) or the authority's analyst."""

    message = "Only an agent (or, to read, the tax authority) may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if IsAgent().has_permission(request, view):
            return True
        return request.method == "GET" and IsAnalyst().has_permission(request, view)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Same key and body replay the first answer; same key, other body: 422.",
)


AUTH_ERRORS = {
    401: error_response("Not authenticated."),
    403: error_response("Only an agent may do this."),
}


def _refund_loaded(refund: Refund) -> Refund:
    """The refund with what its reply shows: as the service left it when it holds it all."""
    cached = (
        Refund.form.is_cached(refund)
        and RefundForm.store.is_cached(refund.form)
        and Refund.agent.is_cached(refund)
        and Refund.agency.is_cached(refund)
        and (refund.port_id is None or Refund.port.is_cached(refund))
        and (refund.handed_over_by_id is None or Refund.handed_over_by.is_cached(refund))
    )
    if cached:
        return refund
    loaded = refunds_for_agency(agency_id=refund.agency_id).get(pk=refund.pk)
    return loaded


def refund_resolution(record: IdempotencyRecord) -> Resolution:
    """The answer a refund request whose process died gets, from the refund it bound.

    Paid or awaiting handover: the answer it would have had. Declined: 422.
    In flight (pending, or failed with the outcome unknown): the stale-refund
    sweep re-sends it under its key, so 409 in progress until it has.
    """
    refund = Refund.objects.filter(pk=record.resource_id).first()
    if refund is None:
        return Resolution(rerun=True)
    created = 200 if record.path.rstrip("/").endswith("/retry") else 201
    if refund.status in (RefundStatus.PAID, RefundStatus.AWAITING_HANDOVER):
        return Resolution(
            final=True, status=created, body=RefundSerializer(_refund_loaded(refund)).data
        )
    if refund.status == RefundStatus.FAILED and refund.failure_definite:
        return Resolution(
            final=True,
            status=422,
            body=error_body(
                "payout_declined",
                f"The transfer was declined: {refund.failure_message or refund.failure_code}",
                {"refund": refund.pk, "status": refund.status, "retryable": True},
            ),
        )
    return Resolution(retry_after=30)


def register() -> None:
    """Let the reconciling sweep settle stale refund requests (app start-up)."""
    register_resolver("agencies.refund", refund_resolution)


class RefundListCreateView(generics.GenericAPIView[Refund]):
    """GET: the agency's own refunds (the analyst: all); POST: run checks A-F and pay once."""

    permission_classes = [IsAgentOrAnalystReading]
    serializer_class = RefundSerializer

    def get_queryset(self) -> QuerySet[Refund]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Refund.objects.none()
        refunds = refunds_in_scope(membership=request_membership(self.request))
        params = self.request.query_params
        if params.get("status"):
            refunds = refunds.filter(status=params["status"])
        if params.get("form"):
            refunds = refunds.filter(form__number=params["form"].strip())
        return refunds

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="pending, paid or failed"),
            OpenApiParameter("form", str, description="a form number"),
        ],
        responses={200: RefundSerializer(many=True), **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = list(page if page is not None else self.get_queryset())
        personal_data_reads_record(
            user=request.user,  # type: ignore[arg-type]
            membership=request_membership(request),
            forms=[r.form_id for r in rows],
            reason=ReadReason.LIST,
        )
        data = RefundSerializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request=RefundRequestSerializer,
        responses={
            201: RefundSerializer,
            400: error_response(
                "Malformed: invalid_payout_method, invalid_card_number, invalid_qr ..."
            ),
            404: error_response("No such form."),
            409: error_response("already_refunded"),
            422: error_response(
                "checks_failed (extra.checks), cash_limit_exceeded, payout_declined ..."
            ),
            503: error_response("payout_unavailable: the refund is failed and can be re-sent."),
            **AUTH_ERRORS,
        },
    )
    @idempotent(resolve=refund_resolution)
    def post(self, request: Request) -> Response:
        data = RefundRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        membership = request_membership(request)
        assert membership.agency is not None
        refund = refund_pay(
            form_number=body["form"],
            qr=body.get("qr") or "",
            document_number=body["document_number"],
            document_type=body.get("document_type") or None,
            payout_method=body["payout_method"],
            payout_account=body.get("payout_account") or None,
            agent=request.user,  # type: ignore[arg-type]
            agency=membership.agency,
        )
        return Response(RefundSerializer(_refund_loaded(refund)).data, status=201)


class RefundCheckView(APIView):
    """POST: checks A-F, amounts and payout options for the counter; pays and writes nothing."""

    permission_classes = [IsAgent]

    @extend_schema(
        request=RefundCheckRequestSerializer,
        responses={
            200: RefundCheckSerializer,
            400: error_response("invalid_qr"),
            404: error_response("No such form."),
            **AUTH_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        data = RefundCheckRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        membership = request_membership(request)
        assert membership.agency is not None
        assessment = refund_check(
            form_number=body["form"],
            qr=body.get("qr") or "",
            document_number=body.get("document_number") or "",
            document_type=body.get("document_type") or None,
            agency=membership.agency,
            agent=request.user,  # type: ignore[arg-type]
        )
        document = document_number_for(membership=membership, form=assessment.form)
        personal_data_reads_record(
            user=request.user,  # type: ignore[arg-type]
            membership=membership,
            forms=[assessment.form],
            reason=ReadReason.SCAN if body.get("qr") else ReadReason.TYPED,
            unmasked=document is not None,
        )
        return Response(assessment_body(assessment, document_number=document))


class RefundDetailView(APIView):
    """GET one of the agency's own refunds (other agencies' refunds are 404; the analyst: any)."""

    permission_classes = [IsAgentOrAnalystReading]

    @extend_schema(
        responses={200: RefundSerializer, 404: error_response("Not found."), **AUTH_ERRORS}
    )
    def get(self, request: Request, pk: int) -> Response:
        refund = refunds_in_scope(membership=request_membership(request)).filter(pk=pk).first()
        if refund is None:
            raise RefundNotFound(f"No refund {pk}.")
        personal_data_reads_record(
            user=request.user,  # type: ignore[arg-type]
            membership=request_membership(request),
            forms=[refund.form_id],
            reason=ReadReason.DETAIL,
        )
        return Response(RefundSerializer(refund).data)


class RefundRetryView(APIView):
    """POST: re-send a failed transfer with its stored payout key (never pays twice)."""

    permission_classes = [IsAgent]

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={
            200: RefundSerializer,
            404: error_response("Not found."),
            409: error_response("refund_not_retryable"),
            422: error_response("payout_declined"),
            503: error_response("payout_unavailable"),
            **AUTH_ERRORS,
        },
    )
    @idempotent(resolve=refund_resolution)
    def post(self, request: Request, pk: int) -> Response:
        refund = refund_retry(
            refund_id=pk,
            actor=request.user,  # type: ignore[arg-type]
            agency=request_membership(request).agency,
        )
        return Response(RefundSerializer(_refund_loaded(refund)).data)


class RefundHandoverView(APIView):
    """POST: the agent confirms a cash refund left the drawer (awaiting_handover -> paid)."""

    permission_classes = [IsAgent]

    @extend_schema(
        operation_id="refunds_handover",
        summary="Confirm the cash was handed over to the traveler",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={
            200: RefundSerializer,
            404: error_response("Not found."),
            409: error_response("refund_not_awaiting_handover"),
            **AUTH_ERRORS,
        },
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        refund = refund_handover(
            refund_id=pk,
            agent=request.user,  # type: ignore[arg-type]
            agency=request_membership(request).agency,
        )
        return Response(RefundSerializer(_refund_loaded(refund)).data)


class _PassthroughRenderer(renderers.BaseRenderer):
    """Bytes rendered by the settlement exporters, sent as they are."""

    charset = None

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return data


class CsvRenderer(_PassthroughRenderer):
    media_type = "text/csv"
    format = "csv"


class XlsxRenderer(_PassthroughRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"


class SettlementView(APIView):
    """GET the agency's settlement for a month (YYYY-MM): JSON, or ?format=csv|xlsx."""

    permission_classes = [IsAgent]
    renderer_classes = [renderers.JSONRenderer, CsvRenderer, XlsxRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "csv", "xlsx"])],
        responses={
            (200, "application/json"): SettlementSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, XlsxRenderer.media_type): OpenApiTypes.BINARY,
            400: error_response("Not a month (YYYY-MM, 2015 to 2100)."),
            **AUTH_ERRORS,
            404: error_response("Unknown ?format."),
        },
    )
    def get(self, request: Request, period: str) -> Response | HttpResponse:
        parsed = parse_period(period)
        if parsed is None:
            raise BadRequest("The month is written YYYY-MM, e.g. 2026-11.", "invalid")
        membership = request_membership(request)
        assert membership.agency is not None
        settlement = settlement_for(agency=membership.agency, year=parsed[0], month=parsed[1])
        kind = request.accepted_renderer.format if request.accepted_renderer else "json"
        if kind in ("csv", "xlsx"):
            data = settlement_csv(settlement) if kind == "csv" else settlement_xlsx(settlement)
            filename = settlement_filename(settlement, kind)
            response = Response(data, content_type=request.accepted_renderer.media_type)
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        return Response(settlement.as_dict())
