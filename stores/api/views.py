"""Store API (SPEC §4): invoices, refund forms, voids. Parse, call one service, render."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import idempotent
from core.api.permissions import IsAnalyst, IsClerk, IsStaff, request_membership, request_store
from core.api.schema import error_response
from core.crypto import document_hash
from stores.api.filters import FormFilter
from stores.api.serializers import (
    FormCreateSerializer,
    FormDetailSerializer,
    FormIssuedSerializer,
    FormSearchSerializer,
    FormSummarySerializer,
    InvoiceCreateSerializer,
    InvoiceSerializer,
    VoidResultSerializer,
    VoidSerializer,
    represent,
)
from stores.exceptions import FormNotFound
from stores.models import RefundForm, VatInvoiceLine
from stores.scopes import (
    ReadReason,
    document_number_for,
    form_in_scope_or_404,
    forms_in_scope,
    invoices_in_scope,
    personal_data_reads_record,
)
from stores.selectors import invoices_with_lines
from stores.services import invoice_issue, refund_form_issue, refund_form_void

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Same key and body replay the first answer; same key, other body: 422.",
)


SEARCH_MAX = 200

AUTH_ERRORS = {
    401: error_response("Not authenticated."),
    403: error_response("Only a store clerk may do this."),
}


class IsClerkOrAnalyst(BasePermission):
    """Reads of invoices: the store's clerk, or the tax authority's analyst."""

    message = "Only a store clerk or the tax authority may read invoices."

    def has_permission(self, request: Request, view: Any) -> bool:
        return any(p.has_permission(request, view) for p in (IsClerk(), IsAnalyst()))


class InvoiceCreateView(APIView):
    """Issue an ordinary VAT invoice at the clerk's store."""

    permission_classes = [IsClerk]

    @extend_schema(
        operation_id="invoices_create",
        summary="Issue a VAT invoice (数电票)",
        parameters=[IDEMPOTENCY_KEY],
        request=InvoiceCreateSerializer,
        responses={
            201: InvoiceSerializer,
            400: error_response("Malformed input: nothing was written."),
            **AUTH_ERRORS,
            422: error_response("idempotency_key_reused"),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = InvoiceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = invoice_issue(
            store=request_store(request),
            clerk=request.user,  # type: ignore[arg-type]
            buyer_name=serializer.validated_data["buyer_name"],
            issued_on=serializer.validated_data.get("issued_on"),
            lines=serializer.line_inputs(),
        )
        return Response(represent(InvoiceSerializer, invoice), status=status.HTTP_201_CREATED)


class InvoiceDetailView(APIView):
    """One of the clerk's store's invoices (blue or red-ink)."""

    permission_classes = [IsClerkOrAnalyst]

    @extend_schema(
        operation_id="invoices_retrieve",
        summary="Read an invoice of your store (the analyst: any invoice)",
        responses={
            200: InvoiceSerializer,
            **AUTH_ERRORS,
            404: error_response("Not at your store."),
        },
    )
    def get(self, request: Request, number: str) -> Response:
        invoice = (
            invoices_in_scope(membership=request_membership(request))
            .select_related("store", "original", "red_invoice", "form")
            .prefetch_related(
                Prefetch("lines", queryset=VatInvoiceLine.objects.order_by("position"))
            )
            .filter(number=number)
            .first()
        )
        if invoice is None:
            raise FormNotFound(f"No invoice {number} at your store.", extra={"number": number})
        return Response(InvoiceSerializer(invoice).data)


class FormListCreateView(generics.ListAPIView[RefundForm]):
    """GET: the forms in the caller's scope (a clerk: their store's), filtered, paginated;
    every listed form's read is recorded. POST: a clerk issues a form."""

    serializer_class = FormSummarySerializer
    filterset_class = FormFilter

    def get_permissions(self) -> list[BasePermission]:
        return [IsStaff()] if self.request.method == "GET" else [IsClerk()]

    def get_queryset(self) -> QuerySet[RefundForm]:
        if getattr(self, "swagger_fake_view", False):
            return RefundForm.objects.none()
        return (
            forms_in_scope(membership=request_membership(self.request))
            .select_related("store")
            .order_by("-issued_at", "-pk")
        )

    @extend_schema(
        operation_id="forms_list",
        summary="List the refund forms in your scope (a clerk: your store's)",
        responses={
            200: FormSummarySerializer(many=True),
            401: error_response("Not authenticated."),
            403: error_response("Not store, customs, agency or authority staff."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if "document_number" in request.query_params:
            # Refused rather than ignored: an ignored filter would list every form.
            raise ValidationError(
                {"document_number": ["Never in a URL: POST it to /api/v1/forms/search/."]}
            )
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        personal_data_reads_record(
            user=request.user,  # type: ignore[arg-type]
            membership=request_membership(request),
            forms=rows,
            reason=ReadReason.LIST,
        )
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    @extend_schema(
        operation_id="forms_create",
        summary="Issue a Refund Application Form",
        parameters=[IDEMPOTENCY_KEY],
        request=FormCreateSerializer,
        responses={
            201: FormIssuedSerializer,
            400: error_response("Malformed input: nothing was written."),
            **AUTH_ERRORS,
            422: error_response(
                "A rule says no: below_minimum, stay_over_183_days, invoice_before_entry,"
                " invoice_not_found, invoice_already_used, traveler_not_eligible,"
                " goods_not_eligible, document_expired, invoices_not_same_store_day,"
                " not_buy_and_refund_store, idempotency_key_reused."
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = FormCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = refund_form_issue(
            store=request_store(request),
            clerk=request.user,  # type: ignore[arg-type]
            traveler=serializer.traveler_input(),
            invoice_numbers=serializer.validated_data["invoice_numbers"],
            buy_and_refund=serializer.validated_data["buy_and_refund"],
        )
        return Response(represent(FormIssuedSerializer, form), status=status.HTTP_201_CREATED)


class FormSearchView(APIView):
    """Forms of the clerk's store for one traveler document, the number in the body."""

    permission_classes = [IsClerk]

    @extend_schema(
        operation_id="forms_search",
        summary="Find your store's forms by the traveler's document number",
        description=(
            "The document number travels in the body, never in the URL (URLs end up in"
            " access logs and browser history). Matched by keyed hash; newest first, at"
            " most 200."
        ),
        request=FormSearchSerializer,
        responses={
            200: FormSummarySerializer(many=True),
            400: error_response("Malformed body."),
            **AUTH_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        body = FormSearchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = request_membership(request)
        forms = forms_in_scope(membership=membership).filter(
            document_hash=document_hash(body.validated_data["document_number"])
        )
        if body.validated_data.get("status"):
            forms = forms.filter(status=body.validated_data["status"])
        newest = list(forms.select_related("store").order_by("-issued_at", "-pk")[:SEARCH_MAX])
        personal_data_reads_record(
            user=request.user,  # type: ignore[arg-type]
            membership=membership,
            forms=newest,
            reason=ReadReason.LIST,
        )
        return Response(FormSummarySerializer(newest, many=True).data)


class FormDetailView(APIView):
    """A form with its status and history, in the caller's scope (SPEC §3); the read is recorded."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="forms_retrieve",
        summary="Read a refund form, its status and history",
        responses={
            200: FormDetailSerializer,
            401: error_response("Not authenticated."),
            403: error_response("Not store, customs, agency or authority staff."),
            404: error_response("No such form in your scope."),
        },
    )
    def get(self, request: Request, number: str) -> Response:
        membership = request_membership(request)
        form = form_in_scope_or_404(membership=membership, number=number)
        document = document_number_for(membership=membership, form=form)
        personal_data_reads_record(
            user=request.user,  # type: ignore[arg-type]
            membership=membership,
            forms=[form],
            reason=ReadReason.DETAIL,
            unmasked=document is not None,
        )
        return Response(FormDetailSerializer(form, context={"document_number": document}).data)


class FormVoidView(APIView):
    """Void an issued form on a return; its invoices get red-ink reversals."""

    permission_classes = [IsClerk]

    @extend_schema(
        operation_id="forms_void",
        summary="Void a refund form (returns before export)",
        parameters=[IDEMPOTENCY_KEY],
        request=VoidSerializer,
        responses={
            200: VoidResultSerializer,
            400: error_response("Malformed input."),
            **AUTH_ERRORS,
            404: error_response("No such form at your store."),
            409: error_response("form_not_voidable: only an issued form can be voided."),
            422: error_response("idempotency_key_reused"),
        },
    )
    @idempotent
    def post(self, request: Request, number: str) -> Response:
        serializer = VoidSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = form_in_scope_or_404(membership=request_membership(request), number=number)
        reds = refund_form_void(
            form=form,
            clerk=request.user,  # type: ignore[arg-type]
            reason=serializer.validated_data["reason"],
        )
        body = {
            "number": form.number,
            "status": form.status,
            "red_invoices": invoices_with_lines(pks=[red.pk for red in reds]),
        }
        return Response(VoidResultSerializer(body).data)
