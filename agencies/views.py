"""The agency portal (/agency/): the refund counter, refunds, receipts and settlement.

Pages parse input, call one service or selector and render. The counter keeps
one short-lived "visit" per scanned form in the session, under a random token
that is also the page's idempotency key: paying posts once per token, a second
post (double click, reload, back button) lands on the same refund.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agencies.charts import daily_totals_svg
from agencies.forms import (
    ACCOUNT_FIELDS,
    DocumentForm,
    PayoutForm,
    ScanForm,
    month_or_error,
)
from agencies.models import LIVE_REFUND_STATUSES, PayoutMethod, Refund, RefundStatus
from agencies.pdf import receipt_data_for, receipt_pdf, receipt_reference
from agencies.selectors import (
    RefundAssessment,
    form_for_counter,
    refund_of_agency,
    refund_totals,
    refunds_for_agency,
)
from agencies.services import (
    counter_form_present,
    refund_check,
    refund_handover,
    refund_pay,
    refund_retry,
)
from agencies.settlement import (
    parse_period,
    settlement_csv,
    settlement_filename,
    settlement_for,
    settlement_xlsx,
)
from core.api.permissions import request_membership
from core.crypto import decrypt_document, encrypt_document, mask_document
from core.exceptions import ApplicationError
from core.ledger import record_history
from core.models import Agency, IdempotencyRecord, StaffRole
from core.selectors import membership_of
from customs.selectors import verification_for
from stores.models import DocumentType, RefundForm
from stores.scopes import (
    ReadReason,
    document_number_for,
    nationality_label,
    personal_data_reads_record,
)

VISITS = "agency_counter_visits"
MAX_VISITS = 20  # a busy counter's recent forms; older visits drop out of the session

CHECK_LABELS = {
    "A": ("表单信息完整", "Form information is complete"),
    "B": ("证件与申请单一致", "Presented document matches the form"),
    "C": ("海关已核验并签章", "Customs verified and signed the form"),
    "D": ("入境后183天内离境", "Departure within 183 days of the last entry"),
    "E": ("购物后90天内离境", "Purchase within 90 days before departure"),
    "F": ("与系统记录一致", "Form matches the system record"),
}
PAYOUT_HINTS = {
    PayoutMethod.CASH.value: "现金 · paid at the counter",
    PayoutMethod.BANK_CARD.value: "银行卡 · transfer to a card (UnionPay, Visa, Mastercard)",
    PayoutMethod.ALIPAY.value: "支付宝 · transfer to an Alipay account",
    PayoutMethod.WECHAT.value: "微信支付 · transfer to a WeChat Pay account",
}

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

AgentView = Callable[..., HttpResponse]


def agent_required(view: AgentView) -> Callable[..., HttpResponse]:
    """Agents only: anonymous users go to the login page, other users get a 403 page.

    The wrapped view receives the agent's agency as its second argument.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = membership_of(request.user)
        if membership is None or membership.role != StaffRole.AGENT or membership.agency is None:
            return render(request, "agencies/forbidden.html", status=403)
        request.membership = membership  # type: ignore[attr-defined]
        return view(request, membership.agency, *args, **kwargs)

    return wrapper


# --- Counter visits in the session --------------------------------------------------


def _visits(request: HttpRequest) -> dict[str, dict[str, Any]]:
    visits: dict[str, dict[str, Any]] = request.session.get(VISITS, {})
    return visits


def _visit(request: HttpRequest, token: str) -> dict[str, Any] | None:
    return _visits(request).get(token)


def _save_visit(request: HttpRequest, token: str, visit: dict[str, Any]) -> None:
    visits = _visits(request)
    visits.pop(token, None)
    visits[token] = visit
    while len(visits) > MAX_VISITS:
        visits.pop(next(iter(visits)))
    request.session[VISITS] = visits


def _expired(request: HttpRequest) -> HttpResponse:
    messages.error(request, "This counter session has expired. Scan the form again.")
    return redirect("agencies:counter")


# --- Counter -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_required
def counter(request: HttpRequest, agency: Agency) -> HttpResponse:
    """Step 1: scan the form's QR (a keyboard-wedge scanner types it and presses Enter)."""
    form = ScanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        qr = form.cleaned_data["qr"].upper()
        typed = form.typed_number()
        document = form.cleaned_data["document_number"]
        try:
            if typed and not document:
                form.add_error(
                    "document_number",
                    "A typed form number needs the full document number of the passport in hand.",
                )
                raise _StayOnPage
            presented = counter_form_present(
                form_number=typed or "",
                qr="" if typed else qr,
                document_number=document if typed else "",
                agency=agency,
                agent=request.user,  # type: ignore[arg-type]
            )
        except _StayOnPage:
            pass
        except ApplicationError as error:
            message = error.message
            if error.status_code == 404:
                number = typed or (qr[3:19] if qr.startswith("RF1") else "")
                message = (
                    f"No refund form {number} is on record for your agency"
                    + (" with this document number." if typed else ".")
                    + " Check that the form was issued by a registered store and verified at"
                    " a port your agency serves."
                )
            form.add_error("qr", message)
        else:
            token = secrets.token_urlsafe(16)
            visit_state: dict[str, Any] = {
                "qr": "" if typed else qr,
                "form": presented.form.number,
                "how": presented.how,
            }
            if typed:
                visit_state["doc"] = encrypt_document(document)
                visit_state["doc_type"] = presented.form.document_type
            _save_visit(request, token, visit_state)
            return redirect("agencies:visit", token=token)
    today = timezone.localdate()
    recent = list(
        refunds_for_agency(agency_id=agency.pk).filter(refund_date=today, agent_id=request.user.pk)[
            :10
        ]
    )
    _read_recorded(request, [r.form_id for r in recent], ReadReason.LIST)
    return render(
        request,
        "agencies/counter_scan.html",
        {"form": form, "agency": agency, "recent": recent, "nav": "counter"},
        status=422 if form.errors else 200,
    )


class _StayOnPage(Exception):
    """The scan form has an error of its own: render it again."""


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


@dataclass(frozen=True)
class CheckRow:
    """One line of the A-F checklist as the page shows it."""

    code: str
    passed: bool
    detail: str
    label_zh: str
    label_en: str


def _check_rows(assessment: RefundAssessment) -> list[CheckRow]:
    return [
        CheckRow(c.code, c.passed, c.detail, *CHECK_LABELS.get(c.code, ("", c.code)))
        for c in assessment.checks
    ]


# The transfer the traveler chose ahead (SPEC §2) lives in a later app (travelers), which
# registers how to find it: (what the counter shows, the full account to pay it to).
PreChoiceLookup = Callable[[RefundForm], tuple[dict[str, str], str] | None]
_pre_choice_lookup: list[PreChoiceLookup] = []


def register_pre_choice_lookup(lookup: PreChoiceLookup) -> None:
    """Let the travelers app show (and let the agent pay) a form's pre-chosen transfer."""
    _pre_choice_lookup[:] = [lookup]


def _pre_choice(form: RefundForm) -> tuple[dict[str, str], str] | None:
    return _pre_choice_lookup[0](form) if _pre_choice_lookup else None


def _render_visit(
    request: HttpRequest,
    agency: Agency,
    token: str,
    visit: dict[str, Any],
    *,
    document_form: DocumentForm | None = None,
    payout_form: PayoutForm | None = None,
    error: ApplicationError | None = None,
    status: int = 200,
) -> HttpResponse:
    form = form_for_counter(number=visit["form"])
    if form is None:
        return _expired(request)
    document = decrypt_document(visit["doc"]) if visit.get("doc") else ""
    assessment: RefundAssessment | None = None
    lookup_error: ApplicationError | None = None
    try:
        assessment = refund_check(
            form_number=form.number,
            qr=visit["qr"],
            document_number=document,
            document_type=visit.get("doc_type") or None,
            agency=agency,
            record=False,  # recorded once, when the form was scanned or typed
        )
    except ApplicationError as exc:
        lookup_error = exc
    full_document = document_number_for(membership=request_membership(request), form=form)
    _read_recorded(
        request,
        [form],
        ReadReason.TYPED if visit.get("how") == "typed" else ReadReason.SCAN,
        unmasked=full_document is not None,
    )
    verification = assessment.verification if assessment else verification_for(form)
    presented = (
        {line.form_line_id: line for line in verification.lines.all()} if verification else {}
    )
    lines = [(line, presented.get(line.pk)) for line in form.lines.all()]
    if document_form is None:
        document_form = DocumentForm(
            initial={"document_type": visit.get("doc_type") or form.document_type}
        )
    options = []
    if assessment is not None:
        for option in assessment.payout_options:
            options.append(
                {
                    "method": option.method,
                    "label": PayoutMethod(option.method).label,
                    "hint": PAYOUT_HINTS[option.method],
                    "allowed": option.allowed,
                    "reason": option.reason,
                    "account_field": ACCOUNT_FIELDS.get(option.method),
                }
            )
    if payout_form is None:
        first_allowed = next((o["method"] for o in options if o["allowed"]), None)
        payout_form = PayoutForm(initial={"payout_method": first_allowed})
    existing = assessment.existing if assessment else None
    context = {
        "nav": "counter",
        "agency": agency,
        "token": token,
        "form": form,
        "lines": lines,
        "verification": verification,
        "assessment": assessment,
        "lookup_error": lookup_error,
        "error": error,
        "full_document": full_document,
        "nationality": nationality_label(form.nationality),
        "typed": visit.get("how") == "typed",
        "document_entered": bool(document),
        "document_masked": mask_document(document) if document else "",
        "document_type_label": DocumentType(visit["doc_type"]).label
        if visit.get("doc_type")
        else "",
        "checks": _check_rows(assessment) if assessment and document else [],
        "failed_codes": [c.code for c in assessment.checks if not c.passed] if assessment else [],
        "can_pay": bool(assessment and document and assessment.passed),
        "document_form": document_form,
        "payout_form": payout_form,
        "options": options,
        "existing": existing if existing and existing.agency_id == agency.pk else None,
        "pre_choice": (_pre_choice(form) or (None, ""))[0],
    }
    return render(request, "agencies/counter_visit.html", context, status=status)


@require_http_methods(["GET", "POST"])
@agent_required
def visit(request: HttpRequest, agency: Agency, token: str) -> HttpResponse:
    """Step 2 and 3: the form summary, the presented document, checks A-F, payout choice."""
    state = _visit(request, token)
    if state is None:
        return _expired(request)
    if state.get("refund"):
        return redirect("agencies:refund", pk=state["refund"])
    if request.method == "POST":
        document_form = DocumentForm(request.POST)
        if not document_form.is_valid():
            return _render_visit(
                request, agency, token, state, document_form=document_form, status=422
            )
        state["doc"] = encrypt_document(document_form.cleaned_data["document_number"])
        state["doc_type"] = document_form.cleaned_data["document_type"]
        _save_visit(request, token, state)
        return redirect(reverse("agencies:visit", kwargs={"token": token}) + "#checks")
    return _render_visit(request, agency, token, state)


# --- Paying exactly once per page ------------------------------------------------------


def _user_id(request: HttpRequest) -> int:
    return int(request.user.pk or 0)  # agent_required: always a saved user here


def _claim(request: HttpRequest, token: str) -> tuple[str, int | None]:
    """Claim the page's token: ("claimed", None), ("done", refund id) or ("busy", None).

    A second post of the same page waits for the first one's answer instead of
    paying (the service would refuse it anyway: one live refund per form).
    """
    key = f"agency-counter-pay:{token}"
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    user_id=_user_id(request),
                    key=key,
                    request_hash=token,
                    method="POST",
                    path=request.path[:300],
                )
            return "claimed", None
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(user_id=_user_id(request), key=key).first()
            if existing is None:
                continue
            if existing.status == IdempotencyRecord.Status.COMPLETE:
                body = existing.response_body or {}
                return "done", body.get("refund")
            if time.monotonic() > deadline:
                return "busy", None
            time.sleep(0.05)


def _settle_claim(request: HttpRequest, token: str, refund_id: int | None) -> None:
    """Record the page's answer (a refund), or free the token so the agent can try again."""
    records = IdempotencyRecord.objects.filter(
        user_id=_user_id(request), key=f"agency-counter-pay:{token}"
    )
    if refund_id is None:
        records.delete()
    else:
        records.update(
            status=IdempotencyRecord.Status.COMPLETE,
            response_status=302,
            response_body={"refund": refund_id},
            completed_at=timezone.now(),
        )


def _pre_choice_payout(form_number: str) -> PayoutForm | None:
    """The payout form filled with the traveler's pre-chosen transfer, if there is one."""
    form = form_for_counter(number=form_number)
    found = _pre_choice(form) if form is not None else None
    if found is None:
        return None
    shown, account = found
    method = shown["payout_method"]
    return PayoutForm({"payout_method": method, ACCOUNT_FIELDS[method]: account})


@require_POST
@agent_required
def pay(request: HttpRequest, agency: Agency, token: str) -> HttpResponse:
    """Step 4: pay once (POST-redirect-GET to the refund and its receipt)."""
    state = _visit(request, token)
    if state is None:
        return _expired(request)
    if state.get("refund"):
        return redirect("agencies:refund", pk=state["refund"])
    payout_form = PayoutForm(request.POST)
    pre_choice = _pre_choice_payout(state["form"]) if request.POST.get("pre_choice") else None
    if pre_choice is not None:
        payout_form = pre_choice  # the account is read on the server, never from the page
    if not payout_form.is_valid() or not state.get("doc"):
        if not state.get("doc"):
            payout_form.add_error(None, "Enter the presented document number first.")
        return _render_visit(request, agency, token, state, payout_form=payout_form, status=422)

    outcome, refund_id = _claim(request, token)
    if outcome == "done" and refund_id:
        state["refund"] = refund_id
        _save_visit(request, token, state)
        return redirect("agencies:refund", pk=refund_id)
    if outcome == "busy":
        # The first press is still paying (the wait is short: never near a server
        # timeout): land on its refund once it exists, else on the list.
        messages.info(request, "This payment is still being processed.")
        live = Refund.objects.filter(
            form__number=state["form"], agency=agency, status__in=LIVE_REFUND_STATUSES
        ).first()
        if live is not None:
            return redirect("agencies:refund", pk=live.pk)
        return redirect("agencies:refunds")

    try:
        refund = refund_pay(
            form_number=state["form"],
            qr=state["qr"],
            document_number=decrypt_document(state["doc"]),
            document_type=state.get("doc_type") or None,
            payout_method=payout_form.cleaned_data["payout_method"],
            payout_account=payout_form.account(),
            agent=request.user,  # type: ignore[arg-type]
            agency=agency,
            record_presentation=False,  # recorded when the form was scanned or typed
        )
    except ApplicationError as error:
        _settle_claim(request, token, None)
        fields = error.extra.get("fields", {})
        if "payout_account" in fields and payout_form.account_field:
            payout_form.add_error(payout_form.account_field, " ".join(fields["payout_account"]))
        elif "payout_method" in fields:
            payout_form.add_error("payout_method", " ".join(fields["payout_method"]))
        return _render_visit(
            request, agency, token, state, payout_form=payout_form, error=error, status=422
        )
    except BaseException:
        _settle_claim(request, token, None)
        raise
    _settle_claim(request, token, refund.pk)
    state["refund"] = refund.pk
    state.pop("doc", None)  # the document number is not kept once paid
    _save_visit(request, token, state)
    if refund.status == RefundStatus.AWAITING_HANDOVER:
        # Only the request that created the cash refund is told to hand it over now.
        messages.success(
            request,
            f"Hand over RMB {refund.net_refund} in cash now for form {refund.form.number},"
            " then confirm below · 请现在支付现金后在下方确认。",
        )
    else:
        messages.success(
            request,
            f"Paid RMB {refund.net_refund} by {refund.get_payout_method_display()}"
            f" for form {refund.form.number}.",
        )
    return redirect("agencies:refund", pk=refund.pk)


# --- Refunds ----------------------------------------------------------------------------


def _month_range(month: date) -> tuple[date, date]:
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return month, next_month


@require_GET
@agent_required
def refunds(request: HttpRequest, agency: Agency) -> HttpResponse:
    """The agency's own refunds, newest first; optionally one month and one status."""
    queryset = refunds_for_agency(agency_id=agency.pk)
    month_param = request.GET.get("month") or None
    month: date | None = None
    if month_param:
        month, error = month_or_error(month_param, timezone.localdate())
        if error:
            return _bad_month(request, agency, error, "agencies:refunds")
        start, end = _month_range(month)
        queryset = queryset.filter(refund_date__gte=start, refund_date__lt=end)
    status = request.GET.get("status", "")
    if status in RefundStatus.values:
        queryset = queryset.filter(status=status)
    else:
        status = ""
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    _read_recorded(request, [r.form_id for r in page.object_list], ReadReason.LIST)
    paid = list(
        queryset.filter(status=RefundStatus.PAID)
        .select_related(None)
        .only("refundable_vat", "fee", "net_refund")
    )
    return render(
        request,
        "agencies/refund_list.html",
        {
            "nav": "refunds",
            "agency": agency,
            "page": page,
            "rows": [(r, receipt_reference(r)) for r in page.object_list],
            "month": month,
            "status": status,
            "statuses": RefundStatus.choices,
            "paid_count": len(paid),
            "totals": refund_totals(paid),
        },
    )


def _refund_or_404(agency: Agency, pk: int) -> Refund:
    refund = refund_of_agency(agency_id=agency.pk, refund_id=pk)
    if refund is None:
        raise Http404("No such refund at your agency.")
    return refund


@require_GET
@agent_required
def refund_detail(request: HttpRequest, agency: Agency, pk: int) -> HttpResponse:
    """One refund: status, amounts, checks, payout, the receipt link or a re-send button."""
    refund = _refund_or_404(agency, pk)
    _read_recorded(request, [refund.form_id], ReadReason.DETAIL)
    checks = [
        CheckRow(c["code"], c["passed"], c["detail"], *CHECK_LABELS.get(c["code"], ("", "")))
        for c in refund.checks
    ]
    return render(
        request,
        "agencies/refund_detail.html",
        {
            "nav": "refunds",
            "agency": agency,
            "refund": refund,
            "reference": receipt_reference(refund),
            "checks": checks,
            "history": record_history(refund),
            "verification": verification_for(refund.form),
            "nationality": nationality_label(refund.form.nationality),
        },
    )


@require_POST
@agent_required
def refund_resend(request: HttpRequest, agency: Agency, pk: int) -> HttpResponse:
    """Re-send a failed transfer with its stored key: it pays at most once."""
    refund = _refund_or_404(agency, pk)
    try:
        refund = refund_retry(refund_id=refund.pk, actor=request.user, agency=agency)  # type: ignore[arg-type]
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if refund.status == RefundStatus.PAID:
            messages.success(request, f"Paid RMB {refund.net_refund}: the transfer went through.")
    return redirect("agencies:refund", pk=pk)


@require_POST
@agent_required
def refund_handover_confirm(request: HttpRequest, agency: Agency, pk: int) -> HttpResponse:
    """One click: the agent confirms the cash left the drawer (recorded with who and when)."""
    refund = _refund_or_404(agency, pk)
    try:
        refund = refund_handover(refund_id=refund.pk, agent=request.user, agency=agency)  # type: ignore[arg-type]
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"Cash RMB {refund.net_refund} handed over: refund paid · 现金已交付。"
        )
    return redirect("agencies:refund", pk=pk)


@require_GET
@agent_required
def receipt(request: HttpRequest, agency: Agency, pk: int) -> HttpResponse:
    """The bilingual receipt PDF of a paid refund."""
    refund = _refund_or_404(agency, pk)
    if refund.status != RefundStatus.PAID:
        raise Http404("Only a paid refund has a receipt.")
    _read_recorded(request, [refund.form_id], ReadReason.DETAIL)
    pdf = receipt_pdf(receipt_data_for(refund))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{receipt_reference(refund)}.pdf"'
    return response


# --- Settlement ---------------------------------------------------------------------------


def _bad_month(request: HttpRequest, agency: Agency, error: str, back: str) -> HttpResponse:
    """A malformed or out-of-range ``?month=``: a 400 that says so, never another month."""
    return render(
        request,
        "agencies/bad_month.html",
        {"nav": back.split(":")[1], "agency": agency, "error": error, "back": reverse(back)},
        status=400,
    )


def _shift_month(month: date, delta: int) -> date:
    index = month.year * 12 + month.month - 1 + delta
    return date(index // 12, index % 12 + 1, 1)


@require_GET
@agent_required
def settlement(request: HttpRequest, agency: Agency) -> HttpResponse:
    """The month's settlement: totals, breakdowns, the daily chart, CSV and XLSX links."""
    today = timezone.localdate()
    month, error = month_or_error(request.GET.get("month"), today)
    if error:
        return _bad_month(request, agency, error, "agencies:settlement")
    result = settlement_for(agency=agency, year=month.year, month=month.month)
    chart = daily_totals_svg(
        [(date.fromisoformat(row.key), row.net_refund, row.count) for row in result.daily],
        month=month,
        title="Daily net refunds paid",
    )
    sections = [
        ("By payout method", "退付方式", "Method", result.by_method, False),
        ("By store", "商店", "Store", result.by_store, True),
        ("By port", "口岸", "Port", result.by_port, True),
        ("By nationality", "国籍", "Nationality", result.by_nationality, False),
    ]
    previous = _shift_month(month, -1)
    following = _shift_month(month, 1)
    return render(
        request,
        "agencies/settlement.html",
        {
            "nav": "settlement",
            "agency": agency,
            "month": month,
            "period": result.period,
            "settlement": result,
            "sections": sections,
            "chart": mark_safe(chart),  # noqa: S308 - built by daily_totals_svg, text escaped
            "daily": [row for row in result.daily if row.count],
            "previous": previous if previous >= date(2015, 1, 1) else None,
            "following": following if following <= today.replace(day=1) else None,
        },
    )


@require_GET
@agent_required
def settlement_download(
    request: HttpRequest, agency: Agency, period: str, fmt: str
) -> HttpResponse:
    """The month's settlement as CSV or XLSX (the same figures as the page)."""
    parsed = parse_period(period)
    if parsed is None:
        raise Http404("Not a month.")
    result = settlement_for(agency=agency, year=parsed[0], month=parsed[1])
    if fmt == "csv":
        response = HttpResponse(settlement_csv(result), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(settlement_xlsx(result), content_type=XLSX_TYPE)
    filename = settlement_filename(result, fmt)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
