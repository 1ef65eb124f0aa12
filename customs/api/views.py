"""Customs API views: parse, call one service or selector, render."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.idempotency import idempotent
from core.api.permissions import IsOfficer, request_membership
from core.api.schema import error_response
from core.exceptions import NotFound
from core.models import Port
from customs.api.serializers import (
    BatchDetailOut,
    BatchItemOut,
    BatchOpenIn,
    BatchOut,
    FormCustomsOut,
    PresentedIn,
    QueueOut,
    ScanIn,
    VerificationIn,
    VerificationListOut,
    VerificationOut,
    verification_in,
    verification_out,
)
from customs.exceptions import QrRefused
from customs.exports import mailbox_batch_csv
from customs.models import InspectionDecision, MailboxBatch, Verification
from customs.rules import departure_warnings
from customs.selectors import (
    form_for_customs,
    inspection_for,
    inspection_queue,
    mailbox_batch_get,
    mailbox_batches,
    mailbox_items,
    verification_detail,
    verification_for,
    verification_reply,
    verifications_on,
)
from customs.services import (
    customs_form_scan,
    mailbox_batch_close,
    mailbox_batch_open,
    mailbox_batch_scan,
    verification_create,
)
from stores.scopes import ReadReason, document_number_for, personal_data_reads_record


def _list_recorded(
    view: generics.GenericAPIView[Any], request: Request, form_id: Callable[[Any], int]
) -> Response:
    """A paginated list whose rows show travelers: every row's read recorded in one INSERT."""
    queryset = view.filter_queryset(view.get_queryset())
    page = view.paginate_queryset(queryset)
    rows = list(page if page is not None else queryset)
    personal_data_reads_record(
        user=request.user,  # type: ignore[arg-type]
        membership=request_membership(request),
        forms=[form_id(row) for row in rows],
        reason=ReadReason.LIST,
    )
    data = view.get_serializer(rows, many=True).data
    return view.get_paginated_response(data) if page is not None else Response(data)


class OfficerMixin:
    """Helpers for views where a logged-in customs officer acts for their port."""

    def port(self, request: Request) -> Port:
        port: Port = request.membership.port  # type: ignore[attr-defined]
        return port

    def batch(self, request: Request, batch_id: int) -> MailboxBatch:
        batch = mailbox_batch_get(port=self.port(request), batch_id=batch_id)
        if batch is None:
            raise NotFound("No such mailbox batch at your port.", "batch_not_found")
        return batch


class OfficerView(OfficerMixin, APIView):
    """Base of the officer endpoints."""

    permission_classes = [IsAuthenticated, IsOfficer]


class VerificationsView(OfficerMixin, generics.ListAPIView):
    """POST: verify and stamp a form (SPEC §4). GET: the port's verifications of a day."""

    permission_classes = [IsAuthenticated, IsOfficer]
    serializer_class = VerificationListOut

    @extend_schema(
        request=VerificationIn,
        responses={
            201: VerificationOut,
            400: error_response("Malformed (without qr, document_number is required)."),
            401: error_response("Not authenticated."),
            403: error_response("Only a customs officer may do this."),
            404: error_response("No such form (or the document number does not match)."),
            409: error_response("already_verified, form_not_verifiable"),
            422: error_response("qr_mismatch, verification_refused, ..."),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        values = verification_in(request.data)
        lines = values.get("lines")
        verification = verification_create(
            port=self.port(request),
            officer=request.user,  # type: ignore[arg-type]
            form_number=values["form"],
            qr=values.get("qr") or None,
            document_number=None if values.get("qr") else values["document_number"],
            departure_date=values["departure_date"],
            flight=values.get("flight", ""),
            quantities=(
                {row["id"]: row["quantity_presented"] for row in lines}
                if lines is not None
                else None
            ),
            traveler_matches=values["traveler_matches"],
        )
        return Response(
            verification_out(verification_reply(verification)),
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        parameters=[OpenApiParameter("date", str, description="YYYY-MM-DD, default today")]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Verification]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Verification.objects.none()
        raw = self.request.query_params.get("date")
        try:
            day = date.fromisoformat(raw) if raw else timezone.localdate()
        except ValueError as exc:
            raise ValidationError({"date": ["Use YYYY-MM-DD."]}) from exc
        return verifications_on(port=self.port(self.request), day=day)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _list_recorded(self, request, lambda row: row.form_id)


def _form_as_customs_sees_it(request: Request, form_number: str, reason: str) -> Response:
    """The form, the full document number when presented at this port; the read recorded."""
    membership = request_membership(request)
    form = form_for_customs(number=form_number)
    assert form is not None
    document = document_number_for(membership=membership, form=form)
    personal_data_reads_record(
        user=request.user,  # type: ignore[arg-type]
        membership=membership,
        forms=[form],
        reason=reason,
        unmasked=document is not None,
    )
    verification = verification_for(form)
    context = {
        "inspection": inspection_for(form),
        "verification": verification_detail(pk=verification.pk) if verification else None,
        "warnings": departure_warnings(
            departure_date=timezone.localdate(),
            last_entry_date=form.last_entry_date,
            purchase_date=form.purchase_date,
        ),
        "document_number": document,
    }
    return Response(FormCustomsOut(form, context=context).data)


class FormCustomsView(OfficerView):
    """GET a form by scanned QR (a presentation at the port), or by number when it is
    already in the port's scope (verified or presented here), as customs sees it.

    The first look-up at a port decides the form's inspection (once, recorded);
    a bad QR is refused and recorded as an attempt. A number outside the scope is the
    404 of a missing form: type it with the document number (POST presentations/).
    """

    @extend_schema(
        responses={
            200: FormCustomsOut,
            400: error_response("invalid_form_number, invalid_qr"),
            401: error_response("Not authenticated."),
            403: error_response("Only a customs officer may do this."),
            404: error_response("No such form in your port's scope."),
            422: error_response("qr_mismatch"),
        }
    )
    def get(self, request: Request, code: str) -> Response:
        scanned = customs_form_scan(port=self.port(request), officer=request.user, code=code)  # type: ignore[arg-type]
        reason = ReadReason.SCAN if len("".join(code.split())) > 16 else ReadReason.DETAIL
        return _form_as_customs_sees_it(request, scanned.number, reason)


class PresentationsView(OfficerView):
    """POST a form presented at the counter: its scanned QR, or (damaged QR) its number and
    the full document number of the passport in hand. Recorded; the form is then in the
    port's scope and its full document number shown to compare with the passport."""

    @extend_schema(
        request=PresentedIn,
        responses={
            201: FormCustomsOut,
            400: error_response("Malformed: without qr, document_number is required."),
            401: error_response("Not authenticated."),
            403: error_response("Only a customs officer may do this."),
            404: error_response("No such form (or the document number does not match)."),
            422: error_response("qr_mismatch"),
        },
    )
    def post(self, request: Request) -> Response:
        data = PresentedIn(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = data.validated_data
        qr = values.get("qr") or ""
        scanned = customs_form_scan(
            port=self.port(request),
            officer=request.user,  # type: ignore[arg-type]
            code=qr or values["form"],
            document_number="" if qr else values["document_number"],
        )
        if scanned.number != values["form"]:
            raise QrRefused("The QR is not this form's.")
        reply = _form_as_customs_sees_it(
            request, scanned.number, ReadReason.SCAN if qr else ReadReason.TYPED
        )
        reply.status_code = status.HTTP_201_CREATED
        return reply


class InspectionQueueView(OfficerMixin, generics.ListAPIView):
    """GET the forms selected for inspection at this port, not verified yet."""

    permission_classes = [IsAuthenticated, IsOfficer]
    serializer_class = QueueOut

    def get_queryset(self) -> QuerySet[InspectionDecision]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return InspectionDecision.objects.none()
        return inspection_queue(port=self.port(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _list_recorded(self, request, lambda row: row.form_id)


class MailboxBatchesView(OfficerMixin, generics.ListAPIView):
    """POST opens a mailbox batch; GET lists the port's batches."""

    permission_classes = [IsAuthenticated, IsOfficer]
    serializer_class = BatchOut

    def get_queryset(self) -> QuerySet[MailboxBatch]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return MailboxBatch.objects.none()
        return mailbox_batches(port=self.port(self.request))

    @extend_schema(
        request=BatchOpenIn,
        responses={
            201: BatchOut,
            422: error_response("The drop date is out of range, or the port has no mailbox."),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = BatchOpenIn(data=request.data)
        data.is_valid(raise_exception=True)
        batch = mailbox_batch_open(
            port=self.port(request),
            officer=request.user,  # type: ignore[arg-type]
            drop_date=data.validated_data.get("drop_date"),
            note=data.validated_data.get("note", ""),
        )
        return Response(BatchOut(self.batch(request, batch.pk)).data, status=201)


class MailboxBatchView(OfficerView):
    """GET one batch with its scans, latest first."""

    @extend_schema(responses=BatchDetailOut)
    def get(self, request: Request, batch_id: int) -> Response:
        batch = self.batch(request, batch_id)
        return Response(BatchDetailOut(batch, context={"items": mailbox_items(batch=batch)}).data)


class MailboxScanView(OfficerView):
    """POST a scanned QR or typed number into an open batch -> 201 the item, verified or refused."""

    @extend_schema(
        request=ScanIn,
        responses={
            201: inline_serializer(
                "MailboxScanResult", {"item": BatchItemOut(), "batch": BatchOut()}
            ),
            409: error_response("batch_closed: the batch no longer takes scans."),
        },
    )
    @idempotent
    def post(self, request: Request, batch_id: int) -> Response:
        data = ScanIn(data=request.data)
        data.is_valid(raise_exception=True)
        item = mailbox_batch_scan(
            batch=self.batch(request, batch_id),
            officer=request.user,  # type: ignore[arg-type]
            code=data.validated_data["code"],
        )
        batch = self.batch(request, batch_id)
        return Response(
            {"item": BatchItemOut(item).data, "batch": BatchOut(batch).data}, status=201
        )


class MailboxCloseView(OfficerView):
    """POST closes the batch."""

    @extend_schema(
        request=None,
        responses={200: BatchOut, 409: error_response("The batch is already closed.")},
    )
    @idempotent
    def post(self, request: Request, batch_id: int) -> Response:
        mailbox_batch_close(batch=self.batch(request, batch_id), officer=request.user)  # type: ignore[arg-type]
        return Response(BatchOut(self.batch(request, batch_id)).data)


class MailboxExportView(OfficerView):
    """GET the batch as CSV."""

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        batch = self.batch(request, batch_id)
        response = HttpResponse(mailbox_batch_csv(batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="mailbox-{batch.number}.csv"'
        return response
