"""Store API (SPEC §4): invoices, refund forms, voids. Parse, call one service, render."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import idempotent
from core.api.permissions import IsClerk, IsStaff, request_membership
from core.api.schema import error_response
from core.models import StaffRole
from stores.api.filters import FormFilter
from stores.api.serializers import (
    FormCreateSerializer,
    FormDetailSerializer,
    FormIssuedSerializer,
    FormSummarySerializer,
    InvoiceCreateSerializer,
    InvoiceSerializer,
    VoidResultSerializer,
    VoidSerializer,
)
from stores.exceptions import FormNotFound
from stores.models import RefundForm
from stores.selectors import (
    form_in_scope,
    forms_for_store,
    invoice_in_scope,
    invoices_with_lines,
)
from stores.services import invoice_issue, refund_form_issue, refund_form_void

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Same key and body replay the first answer; same key, other body: 422.",
)


AUTH_ERRORS = {
    401: error_response("Not authenticated."),
    403: error_response("Only a store clerk may do this."),
}


def _clerk_store_id(request: Request) -> int:
    store_id = request_membership(request).store_id
    assert store_id is not None  # a clerk's membership always names its store
    return store_id


def _form_or_404(number: str, store_id: int | None) -> RefundForm:
    form = form_in_scope(number=number, store_id=store_id)
    if form is None:
        raise FormNotFound(f"No refund form {number}.", extra={"number": number})
    return form


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
        membership = request_membership(request)
        assert membership.store is not None
        invoice = invoice_issue(
            store=membership.store,
            clerk=request.user,  # type: ignore[arg-type]
            buyer_name=serializer.validated_data["buyer_name"],
            issued_on=serializer.validated_data.get("issued_on"),
            lines=serializer.line_inputs(),
        )
        return Response(InvoiceSerializer(invoice).data, status=status.HTTP_201_CREATED)


class InvoiceDetailView(APIView):
    """One of the clerk's store's invoices (blue or red-ink)."""

    permission_classes = [IsClerk]

    @extend_schema(
        operation_id="invoices_retrieve",
        summary="Read an invoice of your store",
        responses={
            200: InvoiceSerializer,
            **AUTH_ERRORS,
            404: error_response("Not at your store."),
        },
    )
    def get(self, request: Request, number: str) -> Response:
        invoice = invoice_in_scope(number=number, store_id=_clerk_store_id(request))
        if invoice is None:
            raise FormNotFound(f"No invoice {number} at your store.", extra={"number": number})
        return Response(InvoiceSerializer(invoice).data)


class FormListCreateView(generics.ListAPIView[RefundForm]):
    """The clerk's store's forms (GET, filtered, paginated); issue a form (POST)."""

    permission_classes = [IsClerk]
    serializer_class = FormSummarySerializer
    filterset_class = FormFilter

    def get_queryset(self) -> QuerySet[RefundForm]:
        if getattr(self, "swagger_fake_view", False):
            return RefundForm.objects.none()
        return forms_for_store(store_id=_clerk_store_id(self.request)).order_by("-issued_at", "-pk")

    @extend_schema(
        operation_id="forms_list",
        summary="List your store's refund forms",
        responses={200: FormSummarySerializer(many=True), **AUTH_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

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
        membership = request_membership(request)
        assert membership.store is not None
        form = refund_form_issue(
            store=membership.store,
            clerk=request.user,  # type: ignore[arg-type]
            traveler=serializer.traveler_input(),
            invoice_numbers=serializer.validated_data["invoice_numbers"],
            buy_and_refund=serializer.validated_data["buy_and_refund"],
        )
        return Response(FormIssuedSerializer(form).data, status=status.HTTP_201_CREATED)


class FormDetailView(APIView):
    """A form with its status and history: clerks their own store's, officers and agents any."""

    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="forms_retrieve",
        summary="Read a refund form, its status and history",
        responses={
            200: FormDetailSerializer,
            401: error_response("Not authenticated."),
            403: error_response("Not store, customs or agency staff."),
            404: error_response("No such form in your scope."),
        },
    )
    def get(self, request: Request, number: str) -> Response:
        membership = request_membership(request)
        store_id = membership.store_id if membership.role == StaffRole.CLERK else None
        form = _form_or_404(number, store_id)
        return Response(FormDetailSerializer(form).data)


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
        form = _form_or_404(number, _clerk_store_id(request))
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
