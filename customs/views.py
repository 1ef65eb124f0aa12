"""Officer pages at /customs/: scan, line-by-line decision, stamp; today; inspection queue; mailbox.

Views parse input, call one service or selector and render; anticipated
errors (ApplicationError) go back to the page, with the HTTP status of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.api.permissions import request_membership
from core.exceptions import ApplicationError
from core.models import Port, StaffRole
from core.selectors import membership_of
from customs.exports import mailbox_batch_csv
from customs.forms import BatchOpenForm, ScanForm, VerifyForm
from customs.models import MailboxBatch, VerificationAttempt
from customs.rules import departure_warnings
from customs.selectors import (
    form_for_customs,
    inspection_for,
    inspection_queue,
    mailbox_batch_get,
    mailbox_batches,
    mailbox_items,
    stamp_is_valid,
    verification_detail,
    verification_for,
    verifications_on,
)
from customs.services import (
    customs_form_scan,
    inspection_decide,
    mailbox_batch_close,
    mailbox_batch_open,
    mailbox_batch_scan,
    verification_create,
)
from stores.models import FormStatus
from stores.scopes import (
    ReadReason,
    document_number_for,
    forms_in_scope,
    nationality_label,
    personal_data_reads_record,
)

View = Callable[..., HttpResponse]


def officer_required(view: View) -> View:
    """Logged-in customs officers only: others get a 403 page, anonymous users the login."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = membership_of(request.user)
        if membership is None or membership.role != StaffRole.OFFICER or membership.port is None:
            return render(request, "customs/forbidden.html", status=403)
        request.port = membership.port  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def _port(request: HttpRequest) -> Port:
    port: Port = request.port  # type: ignore[attr-defined]
    return port


def _page(
    request: HttpRequest, template: str, nav: str, status: int = 200, **context: Any
) -> HttpResponse:
    return render(request, template, {"nav": nav, "port": _port(request), **context}, status=status)


@officer_required
@require_http_methods(["GET", "POST"])
def scan(request: HttpRequest) -> HttpResponse:
    """The start page: one box for the scanner; Enter looks the form up."""
    form = ScanForm(request.POST or None)
    status = 200
    refusal: dict[str, Any] = {}
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        document = form.cleaned_data["document_number"]
        scanned = "".join(code.split()).upper()
        try:
            found = customs_form_scan(
                port=_port(request),
                officer=request.user,  # type: ignore[arg-type]
                code=code,
                document_number=document if len(scanned) <= 16 else "",
            )
        except ApplicationError as error:
            # An empty box for the next scan; the refusal is shown beside it.
            form = ScanForm()
            message = error.message
            if error.status_code == 404 and len(scanned) <= 16 and not document.strip():
                message += " Type it with the full document number of the passport in hand."
            refusal = {"scan_error": message, "scanned": code.strip()[:40]}
            status = error.status_code
        else:
            url = reverse("customs:form", args=[found.number])
            if len(scanned) > 16:
                url += "?qr=" + scanned
            elif document.strip():
                url += "?via=typed"
            return HttpResponseRedirect(url)
    day = timezone.localdate()
    recent = list(verifications_on(port=_port(request), day=day)[:5])
    _read_recorded(request, [v.form_id for v in recent], ReadReason.LIST)
    return _page(request, "customs/scan.html", "scan", status, form=form, recent=recent, **refusal)


def _read_recorded(
    request: HttpRequest, forms: list[Any], reason: str, *, unmasked: bool = False
) -> None:
    personal_data_reads_record(
        user=request.user,  # type: ignore[arg-type]
        membership=request_membership(request),
        forms=forms,
        reason=reason,
        unmasked=unmasked,
    )


def _verify_context(
    request: HttpRequest, number: str, verify_form: VerifyForm | None
) -> dict[str, Any]:
    form = form_for_customs(number=number)
    assert form is not None
    lines = sorted(form.lines.all(), key=lambda line: line.position)
    verification = verification_for(form)
    if verification is not None:
        verification = verification_detail(pk=verification.pk)
    if verify_form is None and form.status == FormStatus.ISSUED:
        verify_form = VerifyForm(initial={"qr": request.GET.get("qr", "")}, lines=lines)
    warnings = (
        verification.warnings
        if verification is not None
        else departure_warnings(
            departure_date=timezone.localdate(),
            last_entry_date=form.last_entry_date,
            purchase_date=form.purchase_date,
        )
    )
    document = document_number_for(membership=request_membership(request), form=form)
    return {
        "form": form,
        "document_number": document,
        "nationality": nationality_label(form.nationality),
        "lines": lines,
        "verification": verification,
        "stamp_valid": stamp_is_valid(verification) if verification else None,
        "verification_lines": (
            sorted(verification.lines.all(), key=lambda v: v.form_line.position)
            if verification
            else []
        ),
        "inspection": inspection_for(form),
        "warnings": warnings,
        "verify_form": verify_form,
        "scan_form": ScanForm(),
    }


@officer_required
@require_http_methods(["GET", "POST"])
def form_detail(request: HttpRequest, number: str) -> HttpResponse:
    """The form with traveler, lines, inspection flag and warnings; POST stamps it.

    Only a form in the port's scope (stores.scopes: verified or presented here); any
    other number is the page of a missing form.
    """
    form = (
        forms_in_scope(membership=request_membership(request))
        .filter(number=number.strip()[:32])
        .first()
    )
    if form is None:
        return _page(
            request,
            "customs/scan.html",
            "scan",
            404,
            form=ScanForm(),
            not_found=number,
            recent=[],
        )
    if form.status == FormStatus.ISSUED and inspection_for(form) is None:
        inspection_decide(form=form, port=_port(request))
    if request.method == "GET":
        context = _verify_context(request, number, None)
        via = request.GET.get("via")
        reason = (
            ReadReason.SCAN
            if request.GET.get("qr")
            else ReadReason.TYPED
            if via == "typed"
            else ReadReason.DETAIL
        )
        _read_recorded(request, [form], reason, unmasked=context["document_number"] is not None)
        return _page(request, "customs/form.html", "scan", **context)

    lines = sorted(form.lines.all(), key=lambda line: line.position)
    verify_form = VerifyForm(request.POST, lines=lines)
    status = 400
    if verify_form.is_valid():
        data = verify_form.cleaned_data
        rejected = request.POST.get("action") == "reject"
        try:
            verification_create(
                port=_port(request),
                officer=request.user,  # type: ignore[arg-type]
                form_number=form.number,
                qr=data["qr"] or None,
                departure_date=data["departure_date"],
                flight=data["flight"],
                quantities=verify_form.quantities(),
                traveler_matches=data["traveler_matches"] and not rejected,
            )
        except ApplicationError as error:
            verify_form.add_error(None, error.message)
            status = error.status_code
        else:
            return redirect("customs:form", number=form.number)
    context = _verify_context(request, number, verify_form)
    return _page(request, "customs/form.html", "scan", status, **context)


@officer_required
def today(request: HttpRequest) -> HttpResponse:
    """Today's verifications and refused scans at this port."""
    day = timezone.localdate()
    verifications = list(verifications_on(port=_port(request), day=day))
    _read_recorded(request, [v.form_id for v in verifications], ReadReason.LIST)
    refused = VerificationAttempt.objects.filter(
        port=_port(request), created_at__date=day
    ).select_related("officer")[:100]
    return _page(
        request,
        "customs/today.html",
        "today",
        day=day,
        verifications=verifications,
        refused=refused,
        verified_sum=sum((v.verified_total for v in verifications), start=0),
    )


@officer_required
def inspections(request: HttpRequest) -> HttpResponse:
    """Forms selected for inspection at this port, waiting for an officer."""
    queue = list(inspection_queue(port=_port(request))[:200])
    _read_recorded(request, [d.form_id for d in queue], ReadReason.LIST)
    return _page(request, "customs/inspections.html", "inspections", queue=queue)


@officer_required
@require_http_methods(["GET", "POST"])
def mailbox(request: HttpRequest) -> HttpResponse:
    """The port's mailbox batches; POST opens a new one."""
    open_form = BatchOpenForm(request.POST or None)
    status = 200
    if request.method == "POST" and open_form.is_valid():
        try:
            batch = mailbox_batch_open(
                port=_port(request),
                officer=request.user,  # type: ignore[arg-type]
                drop_date=open_form.cleaned_data["drop_date"],
                note=open_form.cleaned_data["note"],
            )
        except ApplicationError as error:
            open_form.add_error(None, error.message)
            status = error.status_code
        else:
            return redirect("customs:batch", batch_id=batch.pk)
    elif request.method == "POST":
        status = 400
    batches = list(mailbox_batches(port=_port(request))[:100])
    return _page(
        request,
        "customs/mailbox.html",
        "mailbox",
        status,
        open_form=open_form,
        batches=batches,
        has_open=any(b.status == "open" for b in batches),
    )


def _batch_or_404(request: HttpRequest, batch_id: int) -> MailboxBatch | None:
    return mailbox_batch_get(port=_port(request), batch_id=batch_id)


@officer_required
@require_http_methods(["GET", "POST"])
def batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One batch: the scan box, the running count, each form's result; POST scans."""
    found = _batch_or_404(request, batch_id)
    if found is None:
        return _page(request, "customs/forbidden.html", "mailbox", 404, missing=True)
    form = ScanForm(request.POST or None)
    status = 200
    refusal: dict[str, Any] = {}
    if request.method == "POST" and form.is_valid():
        try:
            item = mailbox_batch_scan(
                batch=found,
                officer=request.user,  # type: ignore[arg-type]
                code=form.cleaned_data["code"],
            )
        except ApplicationError as error:
            form = ScanForm()
            refusal = {"scan_error": error.message, "scanned": request.POST.get("code", "")}
            status = error.status_code
        else:
            return redirect(reverse("customs:batch", args=[found.pk]) + f"?last={item.position}")
    elif request.method == "POST":
        status = 400
    found = _batch_or_404(request, batch_id)
    assert found is not None
    items = list(mailbox_items(batch=found))
    last = request.GET.get("last")
    return _page(
        request,
        "customs/batch.html",
        "mailbox",
        status,
        batch=found,
        items=items,
        scan_form=form,
        last=next((i for i in items if str(i.position) == last), None),
        **refusal,
    )


@officer_required
@require_POST
def batch_close(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Close the batch and go back to it (now read-only)."""
    found = _batch_or_404(request, batch_id)
    if found is None:
        return _page(request, "customs/forbidden.html", "mailbox", 404, missing=True)
    try:
        mailbox_batch_close(batch=found, officer=request.user)  # type: ignore[arg-type]
    except ApplicationError:
        pass  # already closed: the page shows it
    return redirect("customs:batch", batch_id=found.pk)


@officer_required
def batch_export(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The batch as CSV."""
    found = _batch_or_404(request, batch_id)
    if found is None:
        return _page(request, "customs/forbidden.html", "mailbox", 404, missing=True)
    response = HttpResponse(mailbox_batch_csv(found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mailbox-{found.number}.csv"'
    return response
