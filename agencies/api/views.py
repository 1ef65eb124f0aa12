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
from agencies.models import Refund
from agencies.selectors import refund_of_agency, refunds_for_agency
from agencies.services import refund_check, refund_pay, refund_retry
from agencies.settlement import (
    parse_period,
    settlement_csv,
    settlement_filename,
    settlement_for,
    settlement_xlsx,
)
from core.api.idempotency import idempotent
from core.api.permissions import IsAgent, request_membership
from core.api.schema import error_response
from core.exceptions import BadRequest

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
    loaded = refunds_for_agency(agency_id=refund.agency_id).get(pk=refund.pk)
    return loaded


class RefundListCreateView(generics.GenericAPIView[Refund]):
    """GET: the agency's own refunds; POST: run checks A-F and pay a form's refund once."""

    permission_classes = [IsAgent]
    serializer_class = RefundSerializer

    def get_queryset(self) -> QuerySet[Refund]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Refund.objects.none()
        refunds = refunds_for_agency(agency_id=request_membership(self.request).agency_id or 0)
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
        if page is not None:
            return self.get_paginated_response(RefundSerializer(page, many=True).data)
        return Response(RefundSerializer(self.get_queryset(), many=True).data)

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
    @idempotent
    def post(self, request: Request) -> Response:
        data = RefundRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        membership = request_membership(request)
        assert membership.agency is not None
        refund = refund_pay(
            form_number=body["form"],
            qr=body["qr"],
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
            qr=body["qr"],
            document_number=body.get("document_number") or "",
            document_type=body.get("document_type") or None,
            agency=membership.agency,
        )
        return Response(assessment_body(assessment))


class RefundDetailView(APIView):
    """GET one of the agency's own refunds (other agencies' refunds are 404)."""

    permission_classes = [IsAgent]

    @extend_schema(
        responses={200: RefundSerializer, 404: error_response("Not found."), **AUTH_ERRORS}
    )
    def get(self, request: Request, pk: int) -> Response:
        refund = refund_of_agency(
            agency_id=request_membership(request).agency_id or 0, refund_id=pk
        )
        if refund is None:
            raise RefundNotFound(f"No refund {pk}.")
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
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        refund = refund_retry(
            refund_id=pk,
            actor=request.user,  # type: ignore[arg-type]
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
