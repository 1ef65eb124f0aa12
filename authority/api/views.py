"""Authority API: statistics, risk signals, ledger proofs and consistency proofs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authority import proofs
from authority.api.serializers import (
    ConsistencyQuerySerializer,
    ConsistencySerializer,
    HeadSerializer,
    ProofSerializer,
    RiskQuerySerializer,
    RiskSerializer,
    StatisticsQuerySerializer,
    StatisticsSerializer,
)
from authority.risk import risk_signals
from authority.services import authority_read_record
from authority.statistics import GROUPINGS, statistics_for
from core.api.permissions import IsOfficer, IsStaff, _HasRole, request_membership
from core.api.schema import error_response
from core.models import StaffRole
from core.money import money_str


class IsAnalyst(_HasRole):
    """A tax authority analyst."""

    role = StaffRole.ANALYST


class IsAnalystOrOfficer(BasePermission):
    """The analyst (everything) or a customs officer (cases at their own port)."""

    message = "Only the tax authority or customs may read risk signals."

    def has_permission(self, request: Request, view: Any) -> bool:
        return IsAnalyst().has_permission(request, view) or _officer(request, view)


def _officer(request: Request, view: Any) -> bool:
    return IsOfficer().has_permission(request, view)


def _check_order(start: date, end: date) -> None:
    """A period given only in part must still run forwards (400 otherwise)."""
    if start > end:
        raise ValidationError({"from": [f"'from' ({start}) is after 'to' ({end})."]})


def _no_store(response: Response) -> Response:
    response["Cache-Control"] = "no-store"
    return response


class StatisticsView(APIView):
    """GET ?from=&to=&by= -> {rows: [{key, forms, travelers, sales, ...}], totals}."""

    permission_classes = [IsAnalyst]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="First purchase date (ISO), default Jan 1"),
            OpenApiParameter("to", str, description="Last purchase date (ISO), default today"),
            OpenApiParameter(
                "by",
                str,
                required=True,
                enum=list(GROUPINGS),
            ),
        ],
        responses={
            200: StatisticsSerializer,
            400: error_response("Bad dates or grouping"),
            403: error_response("Not the tax authority"),
        },
    )
    def get(self, request: Request) -> Response:
        query = StatisticsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        today = timezone.localdate()
        start = query.validated_data.get("from") or today.replace(month=1, day=1)
        end = query.validated_data.get("to") or today
        _check_order(start, end)
        by = query.validated_data["by"]
        authority_read_record(
            user=request.user,
            what="statistics",
            detail=f"by={by} from={start} to={end}",
            channel="api",
        )
        return Response(statistics_for(start=start, end=end, by=by).as_dict())


class RiskView(APIView):
    """GET ?from=&to=&signal= -> every risk signal's cases (an officer: their port's only)."""

    permission_classes = [IsAnalystOrOfficer]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="First purchase date, default 30 days ago"),
            OpenApiParameter("to", str, description="Last purchase date, default today"),
            OpenApiParameter("signal", str, description="Only this signal"),
        ],
        responses={
            200: RiskSerializer,
            400: error_response("Bad dates"),
            403: error_response("Not the authority or customs"),
        },
    )
    def get(self, request: Request) -> Response:
        query = RiskQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        today = timezone.localdate()
        start = query.validated_data.get("from") or today - timedelta(days=30)
        end = query.validated_data.get("to") or today
        _check_order(start, end)
        membership = request_membership(request)
        port = (
            membership.port.code
            if membership.role == StaffRole.OFFICER and membership.port
            else None
        )
        authority_read_record(
            user=request.user,
            what="risk",
            detail=f"from={start} to={end} port={port or ''}",
            channel="api",
        )
        wanted = query.validated_data.get("signal")
        results = [
            r
            for r in risk_signals(start=start, end=end, port_code=port)
            if not wanted or r.code == wanted
        ]
        return _no_store(
            Response(
                {
                    "signals": [
                        {
                            "code": r.code,
                            "label": r.label,
                            "enabled": r.enabled,
                            "pending": r.pending,
                            "threshold": money_str(r.threshold),
                            "parameter": money_str(r.parameter),
                            "cases": [case.as_dict() for case in r.cases],
                        }
                        for r in results
                    ]
                }
            )
        )


class ProofView(APIView):
    """GET the ledger entries of a form, invoice or refund, each with its inclusion proof."""

    permission_classes = [IsStaff]

    @extend_schema(
        responses={200: ProofSerializer, 404: error_response("No such record in your scope")},
    )
    def get(self, request: Request, kind: str, ident: str) -> Response:
        record = proofs.proof_record(kind=kind, ident=ident)
        membership = request_membership(request)
        if record is None or not proofs.may_read_record(membership=membership, record=record):
            raise NotFound("No such record.")
        authority_read_record(
            user=request.user, what="ledger_proof", detail=f"{kind} {ident}", channel="api"
        )
        return _no_store(Response(proofs.record_proof(record)))


class ConsistencyView(APIView):
    """GET ?first=&second= (tree sizes): RFC 6962 proof that the log only grew between heads."""

    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "first", int, required=True, description="Tree size of the older head"
            ),
            OpenApiParameter(
                "second", int, required=True, description="Tree size of the newer head"
            ),
        ],
        responses={
            200: ConsistencySerializer,
            400: error_response("Bad sizes"),
            404: error_response("No signed head of that size"),
        },
    )
    def get(self, request: Request) -> Response:
        query = ConsistencyQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        try:
            body = proofs.consistency(
                first=query.validated_data["first"], second=query.validated_data["second"]
            )
        except proofs.HeadNotFound as exc:
            raise NotFound(f"No signed head has tree size {exc.args[0]}.") from None
        return Response(body)


class HeadsView(APIView):
    """GET the latest signed heads (newest first): one to keep for a later consistency check."""

    permission_classes = [IsStaff]

    @extend_schema(responses={200: HeadSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response([proofs.head_dict(h) for h in proofs.latest_heads(limit=20)])
