"""The store counter pages (/store/): issue a form, print it, today's forms, void.

Views parse input, call the services, render. Anticipated errors
(``ApplicationError``) become form errors with the rule's message; anything
else is a bug and a 500.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.api.permissions import request_membership
from core.exceptions import ApplicationError
from core.history import history_words
from core.ledger import record_history
from core.models import StaffMembership, StaffRole, Store
from core.money import ZERO, money_str
from core.selectors import membership_of
from stores import services
from stores.countries import country_names
from stores.forms import (
    DOCUMENT_TYPE_LABELS,
    UNIT_SUGGESTIONS,
    IssueForm,
    LineFormSet,
    VoidForm,
    read_mrz,
)
from stores.models import FormStatus, GoodsCategory, InvoiceKind, RefundForm, VatInvoice
from stores.outcome import form_outcome
from stores.pdf import form_pdf, printed_lines
from stores.preview import LineDraft, TravelerDraft, form_estimate, rule_title
from stores.scopes import ReadReason, forms_in_scope, personal_data_reads_record
from stores.selectors import invoices_unused

View = TypeVar("View", bound=Callable[..., HttpResponse])

ISSUED_TOKENS_KEY = "stores_issued_tokens"
ISSUED_TOKENS_KEPT = 30

NOT_VOIDABLE: dict[str, str] = {
    FormStatus.VERIFIED: "Customs has verified this form: it can no longer be voided.",
    FormStatus.PARTIALLY_VERIFIED: "Customs has verified this form: it can no longer be voided.",
    FormStatus.REJECTED: "Customs rejected this form: it can no longer be voided.",
    FormStatus.REFUNDED: "The refund was paid: this form can no longer be voided.",
    FormStatus.VOIDED: "This form is already voided.",
}


def clerk_required(view: View) -> View:
    """Logged-in store clerks only: others get 403; the membership rides on the request."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = membership_of(request.user)
        if membership is None or membership.role != StaffRole.CLERK or membership.store is None:
            raise PermissionDenied("The store counter is for store clerks.")
        request.membership = membership  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def clerk_store(request: HttpRequest) -> Store:
    """The store of the clerk a ``clerk_required`` view is serving."""
    membership: StaffMembership = request_membership(request)
    assert membership.store is not None
    return membership.store


def _scoped_forms(request: HttpRequest) -> QuerySet[RefundForm]:
    """The forms the clerk may read (stores.scopes: their store's), with what pages show."""
    return (
        forms_in_scope(membership=request_membership(request))
        .select_related("store", "store__serving_agency", "traveler")
        .prefetch_related("lines", "invoices")
    )


def _read_recorded(request: HttpRequest, forms: list[RefundForm], reason: str) -> None:
    personal_data_reads_record(
        user=cast(Any, request.user),
        membership=request_membership(request),
        forms=forms,
        reason=reason,
    )


def _form_in_store(request: HttpRequest, number: str) -> RefundForm:
    """The form if it is in the clerk's scope (404 otherwise: others' forms do not exist);
    every page that shows it shows its traveler, so the read is recorded here."""
    form = _scoped_forms(request).filter(number=number.strip()[:32]).first()
    if form is None:
        raise Http404("No such form at this store.")
    _read_recorded(request, [form], ReadReason.DETAIL)
    return form


# --- Today's forms ---------------------------------------------------------------


@require_GET
@clerk_required
def store_home(request: HttpRequest) -> HttpResponse:
    """The store's forms of a day (today by default), newest first, with status."""
    store = clerk_store(request)
    today = services.business_today()
    try:
        day = date.fromisoformat(request.GET.get("day", "")) if request.GET.get("day") else today
    except ValueError:
        day = today
    # Never after today; not before 2000 (the day before 0001-01-01 does not exist).
    day = max(min(day, today), date(2000, 1, 1))
    forms: QuerySet[RefundForm] = (
        forms_in_scope(membership=request_membership(request))
        .select_related("store")
        .filter(issued_at__date=day)
    )
    rows = list(forms.order_by("-issued_at"))
    _read_recorded(request, rows, ReadReason.LIST)
    counts: dict[str, int] = {}
    for form in rows:
        counts[form.status] = counts.get(form.status, 0) + 1
    live = [f for f in rows if f.status != FormStatus.VOIDED]
    # 实退: what the traveler was actually paid (refund or prepayment), never the estimate.
    refunded: list[tuple[RefundForm, Decimal | None]] = [
        (
            f,
            form_outcome(f, with_void=False).refunded
            if f.status == FormStatus.REFUNDED or f.buy_and_refund
            else None,
        )
        for f in rows
    ]
    return render(
        request,
        "stores/home.html",
        {
            "store": store,
            "day": day,
            "today": today,
            "is_today": day == today,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1) if day < today else None,
            "forms": rows,
            "rows": refunded,
            "counts": sorted(counts.items()),
            "live_total": sum((f.total for f in live), start=0),
            "refunded_total": sum((amount for _, amount in refunded if amount), start=ZERO),
            "nav": "home",
        },
    )


@require_GET
@clerk_required
def form_find(request: HttpRequest) -> HttpResponse:
    """Jump to a form by its number (typed or scanned from the QR)."""
    text = request.GET.get("q", "").strip().upper()
    number = text[3:19] if text.startswith("RF1") else text.replace(" ", "")
    form = _scoped_forms(request).filter(number=number).first() if number.isdigit() else None
    if form is None:
        messages.error(request, f"No form {number or text!r} at this store · 本店无此申请单")
        return redirect("stores:home")
    return redirect("stores:form-detail", number=form.number)


# --- Issue a form ----------------------------------------------------------------


def _traveler_draft(form: IssueForm) -> TravelerDraft:
    data = form.cleaned_data
    return TravelerDraft(
        document_type=data.get("document_type") or "",
        document_number=data.get("document_number") or "",
        nationality=data.get("nationality") or "",
        last_entry_date=data.get("last_entry_date"),
        document_expires_on=data.get("document_expires_on"),
    )


def _line_drafts(formset: Any) -> tuple[list[LineDraft], dict[int, list[str]]]:
    """Valid, filled lines as drafts; errors of the others by row index."""
    drafts: list[LineDraft] = []
    errors: dict[int, list[str]] = {}
    for index, line_form in enumerate(formset.forms):
        if not line_form.has_changed():
            continue
        if line_form.is_valid():
            data = line_form.cleaned_data
            drafts.append(
                LineDraft(
                    index=index,
                    item=data["item"],
                    quantity=data["quantity"],
                    unit_price=data["unit_price"],
                    vat_rate=data["vat_rate"],
                )
            )
        else:
            errors[index] = [
                f"{line_form.fields[name].label}: {' '.join(errs)}"
                if name in line_form.fields
                else " ".join(errs)
                for name, errs in line_form.errors.items()
            ]
    return drafts, errors


def _bind(request: HttpRequest) -> tuple[IssueForm, Any]:
    today = services.business_today()
    unused = invoices_unused(store_id=clerk_store(request).pk)
    return (
        IssueForm(request.POST, today=today, unused_invoices=unused),
        LineFormSet(request.POST, prefix="lines"),
    )


@require_POST
@clerk_required
def form_estimate_json(request: HttpRequest) -> JsonResponse:
    """The live eligibility check and refund estimate of the page (reads only)."""
    store = clerk_store(request)
    form, formset = _bind(request)
    form.is_valid()
    formset.is_valid()  # a tampered management form just yields no lines
    drafts, line_errors = _line_drafts(formset)
    estimate = form_estimate(
        store=store,
        traveler=_traveler_draft(form),
        lines=drafts,
        invoice_numbers=form.cleaned_data.get("invoice_numbers") or [],
        buy_and_refund=bool(form.cleaned_data.get("buy_and_refund")),
    )
    payload = estimate.as_json()
    payload["line_errors"] = {str(k): v for k, v in line_errors.items()}
    payload["field_errors"] = {
        name: [str(e) for e in errs] for name, errs in form.errors.items() if name != "mrz"
    }
    if line_errors or payload["field_errors"]:
        payload["eligible"] = False
        payload["messages"].insert(
            0,
            {
                "code": "invalid",
                "level": "error",
                "title": rule_title("invalid"),
                "detail": "Some fields need fixing: see the marked lines and fields.",
            },
        )
    return JsonResponse(payload)


@require_POST
@clerk_required
def mrz_read_json(request: HttpRequest) -> JsonResponse:
    """Read a scanned MRZ (check digits verified by the ``mrz`` package)."""
    text = request.POST.get("mrz", "")[:400]
    reading = read_mrz(text, today=services.business_today())
    data = reading.as_dict()
    names = country_names(reading.nationality) if reading.nationality else None
    data["nationality_label"] = f"{names[0]} {names[1]}" if names else ""
    return JsonResponse(data)


def _issue_tokens(request: HttpRequest) -> dict[str, str]:
    tokens = request.session.get(ISSUED_TOKENS_KEY, {})
    return tokens if isinstance(tokens, dict) else {}


def _remember_token(request: HttpRequest, token: str, number: str) -> None:
    tokens = _issue_tokens(request)
    tokens[token] = number
    request.session[ISSUED_TOKENS_KEY] = dict(list(tokens.items())[-ISSUED_TOKENS_KEPT:])


def _apply_error(form: IssueForm, formset: Any, exc: ApplicationError) -> list[dict[str, str]]:
    """Show an anticipated error on the page: one entry per rule that refused."""
    violations = exc.extra.get("violations") if isinstance(exc.extra, dict) else None
    if violations:
        return [
            {"code": v["code"], "title": rule_title(v["code"], exc.extra), "detail": v["message"]}
            for v in violations
        ]
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if isinstance(fields, dict):
        for name, errs in fields.items():
            if name in form.fields:
                form.add_error(name, errs)
    return [{"code": exc.code, "title": rule_title(exc.code, exc.extra), "detail": exc.message}]


def _render_issue(
    request: HttpRequest,
    form: IssueForm,
    formset: Any,
    *,
    status: int = 200,
    rule_errors: list[dict[str, str]] | None = None,
) -> HttpResponse:
    store = clerk_store(request)
    return render(
        request,
        "stores/issue.html",
        {
            "store": store,
            "form": form,
            "formset": formset,
            "rule_errors": rule_errors or [],
            "units": UNIT_SUGGESTIONS,
            "nav": "issue",
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@clerk_required
def form_issue(request: HttpRequest) -> HttpResponse:
    """One screen: traveler (MRZ scan or typed), goods lines or invoice numbers, issue."""
    store = clerk_store(request)
    if request.method == "GET":
        form = IssueForm(
            initial={"token": secrets.token_hex(16)},
            today=services.business_today(),
            unused_invoices=invoices_unused(store_id=store.pk),
        )
        return _render_issue(request, form, LineFormSet(prefix="lines"))

    form, formset = _bind(request)
    token = request.POST.get("token", "")
    done = _issue_tokens(request).get(token) if token else None
    if done:
        # A double submit or a reload of the POST: the form exists already.
        messages.info(request, f"Form {done} was already issued · 此单已开具")
        return redirect("stores:form-detail", number=done)

    valid = form.is_valid() & formset.is_valid()
    form.require_traveler()
    drafts, _ = _line_drafts(formset) if formset.is_valid() else ([], {})
    invoice_numbers: list[str] = form.cleaned_data.get("invoice_numbers") or []
    if valid and not form.errors and not drafts and not invoice_numbers:
        form.add_error(None, "Add at least one goods line or an existing invoice number.")
    if not valid or form.errors:
        return _render_issue(request, form, formset, status=400)

    data = form.cleaned_data
    traveler = services.TravelerInput(
        name=data["name"].strip(),
        document_type=data["document_type"],
        document_number=data["document_number"].strip(),
        nationality=data["nationality"],
        last_entry_date=data["last_entry_date"],
        document_expires_on=data["document_expires_on"],
        email=data.get("email") or "",
        language=data.get("language") or "",
    )
    lines = [
        services.InvoiceLineInput(
            item=line_form.cleaned_data["item"],
            spec=line_form.cleaned_data.get("spec") or "",
            unit=line_form.cleaned_data.get("unit") or "",
            quantity=line_form.cleaned_data["quantity"],
            unit_price=line_form.cleaned_data["unit_price"],
            vat_rate=line_form.cleaned_data["vat_rate"],
            category=line_form.cleaned_data.get("category") or GoodsCategory.OTHER,
        )
        for line_form in formset.forms
        if line_form.has_changed()
    ]
    clerk = cast(Any, request.user)
    try:
        # Invoice and form in one transaction: a refused form leaves no stray invoice.
        with transaction.atomic():
            numbers = list(invoice_numbers)
            if lines:
                invoice = services.invoice_issue(
                    store=store, clerk=clerk, buyer_name=traveler.name, lines=lines
                )
                numbers.append(invoice.number)
            refund_form = services.refund_form_issue(
                store=store,
                clerk=clerk,
                traveler=traveler,
                invoice_numbers=numbers,
                buy_and_refund=bool(data.get("buy_and_refund")),
            )
    except ApplicationError as exc:
        return _render_issue(
            request,
            form,
            formset,
            status=exc.status_code,
            rule_errors=_apply_error(form, formset, exc),
        )
    if token:
        _remember_token(request, token, refund_form.number)
    messages.success(
        request,
        f"Form {refund_form.number} issued · 申请单已开具 — net refund estimate RMB "
        f"{money_str(refund_form.net_refund)}. Print it for the traveler.",
    )
    return redirect("stores:form-detail", number=refund_form.number)


# --- One form ----------------------------------------------------------------------


def _history_rows(form: RefundForm) -> list[dict[str, Any]]:
    rows = []
    for entry in record_history(form):
        rows.append(
            {
                "at": entry.created_at,
                # In words, both languages: "Form voided — voided", never a code.
                "label": history_words(
                    entry.action,
                    entry.to_status if entry.to_status != entry.from_status else None,
                ),
                "from_status": entry.from_status,
                "to_status": entry.to_status,
                "actor": entry.actor_label,
                "reason": (entry.payload or {}).get("reason", ""),
            }
        )
    return rows


@require_GET
@clerk_required
def form_detail(request: HttpRequest, number: str) -> HttpResponse:
    """A form's lines, amounts, status and history, with print and void."""
    form = _form_in_store(request, number)
    lines = printed_lines(form)
    invoices = list(
        VatInvoice.objects.filter(form=form).order_by("number").select_related("red_invoice")
    )
    red_invoices = list(
        VatInvoice.objects.filter(original__form=form, kind=InvoiceKind.RED).order_by("number")
    )
    names = country_names(form.nationality)
    outcome = form_outcome(form)
    goods = [{"line": line, "verified": outcome.lines.get(line.position)} for line in lines]
    return render(
        request,
        "stores/detail.html",
        {
            "store": clerk_store(request),
            "f": form,
            "lines": lines,
            "goods": goods,
            "invoices": invoices,
            "red_invoices": red_invoices,
            "history": _history_rows(form),
            "nationality": f"{names[0]} {names[1]} ({form.nationality})"
            if names
            else form.nationality,
            "document_label": DOCUMENT_TYPE_LABELS.get(form.document_type, form.document_type),
            "outcome": outcome,
            "voidable": outcome.voidable,
            "not_voidable_reason": outcome.void_blocked,
            "nav": "home",
        },
    )


@require_GET
@clerk_required
def form_print(request: HttpRequest, number: str) -> HttpResponse:
    """The printed form as an inline PDF."""
    form = _form_in_store(request, number)
    response = HttpResponse(form_pdf(form), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="refund-form-{form.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@clerk_required
def form_void(request: HttpRequest, number: str) -> HttpResponse:
    """Confirm, then void the form and issue red-ink invoices (goods returned)."""
    form = _form_in_store(request, number)
    context: dict[str, Any] = {"f": form, "nav": "home", "store": clerk_store(request)}
    blocker = services.refund_form_void_blocker(form)
    if blocker is not None:
        # Not voidable now: the status, a prepayment not returned, dependent same-day forms.
        context["not_voidable_reason"] = NOT_VOIDABLE.get(form.status, "") or blocker.message
        context["void_form"] = VoidForm()
        return render(
            request, "stores/void.html", context, status=409 if request.method == "POST" else 200
        )
    if request.method == "GET":
        context["void_form"] = VoidForm()
        return render(request, "stores/void.html", context)
    void_form = VoidForm(request.POST)
    context["void_form"] = void_form
    if not void_form.is_valid():
        return render(request, "stores/void.html", context, status=400)
    try:
        reds = services.refund_form_void(
            form=form, clerk=cast(Any, request.user), reason=void_form.cleaned_data["reason"]
        )
    except ApplicationError as exc:
        context["error"] = {"title": rule_title(exc.code, exc.extra), "detail": exc.message}
        form.refresh_from_db()
        context["not_voidable_reason"] = NOT_VOIDABLE.get(form.status, "")
        return render(request, "stores/void.html", context, status=exc.status_code)
    messages.success(
        request,
        f"Form {form.number} voided · 申请单已作废. Red-ink invoices: "
        + (", ".join(r.number for r in reds) or "none")
        + ".",
    )
    return redirect(reverse("stores:form-detail", kwargs={"number": form.number}))
