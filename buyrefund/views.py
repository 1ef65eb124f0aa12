"""The store clerk's Buy & Refund (即买即退) prepayment page, served under /store/.

The page lives in the agencies app (stores must not import agencies) but sits in
the store counter's URL space and look. Views parse, call one service
(``prepayment_pay`` / ``prepayment_return``), render. Each rendered form carries
a one-time page token kept in the session: a second POST of the same page (a
double click, a reload) never reaches the service, and the service's form lock
refuses a second prepayment anyway; every success redirects (POST-redirect-GET).
"""

# Chinese labels use full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from agencies.models import Guarantee, PayoutMethod, Prepayment, PrepaymentStatus
from buyrefund.services import prepayment_handover, prepayment_pay, prepayment_return
from core.api.permissions import request_membership
from core.exceptions import ApplicationError
from core.forms import BilingualForm
from core.selectors import buy_and_refund_days, policy_on
from stores.models import FormStatus, RefundForm
from stores.scopes import ReadReason, forms_in_scope, personal_data_reads_record
from stores.views import clerk_required, clerk_store

View = TypeVar("View", bound=Callable[..., HttpResponse])

TOKENS_KEY = "store_prepayment_tokens"
TOKENS_KEPT = 20

SANDBOX_TOKENS = [
    ("tok_visa", "tok_visa — Visa (approves · 通过)"),
    ("tok_short_hold", "tok_short_hold — hold expires in 5 days · 5天预授权"),
    ("tok_flaky", "tok_flaky — slow terminal, approves · 超时后通过"),
    ("tok_declined", "tok_declined — declined · 拒绝"),
]

PAYOUT_LABELS = {
    PayoutMethod.CASH: "Cash · 现金",
    PayoutMethod.ALIPAY: "Alipay · 支付宝",
    PayoutMethod.WECHAT: "WeChat Pay · 微信支付",
    PayoutMethod.BANK_CARD: "Bank card · 银行卡",
}

ERROR_TITLES = {
    "card_declined": "Card declined · 银行卡预授权被拒绝",
    "card_holder_mismatch": "Card holder is not the traveler · 持卡人与旅客姓名不符",
    "not_buy_and_refund_store": "Not a Buy & Refund form · 非即买即退申请单",
    "prepayment_exists": "Already prepaid · 该申请单已预付",
    "form_not_prepayable": "This form cannot be prepaid · 申请单状态不可预付",
    "cash_limit_exceeded": "Over the cash limit · 超出现金限额",
    "invalid_card_token": "Card token not accepted · 卡令牌无效",
    "invalid_payout_method": "Choose a payout method · 请选择支付方式",
    "card_gateway_unavailable": "Card terminal did not answer · 银行卡网关无响应",
    "no_buy_and_refund_window": "No Buy & Refund window for this region · 本地区未设置离境期限",
    "prepayment_not_returnable": "Nothing to return · 无可退回的预付款",
    "prepayment_in_progress": "The guarantee is being placed right now · 担保预授权处理中",
    "prepayment_not_awaiting_handover": "No cash waiting for handover · 无待交付的现金",
    "expired_page": "This page was already submitted · 页面已提交",
}

ERROR_HINTS = {
    "card_declined": "Nothing was paid. Ask the traveler for another credit card in their own name."
    " · 未支付任何款项，请旅客提供本人名下的其他信用卡。",
    "card_holder_mismatch": "The guarantee card must be in the traveler's own name."
    " · 担保信用卡须为旅客本人名下。",
    "card_gateway_unavailable": "Nothing was paid yet. Submit again with the same card."
    " · 尚未支付，请用同一张卡重新提交。",
}


def _form_in_store(request: HttpRequest, number: str) -> RefundForm:
    """The form if it belongs to the clerk's store; 404 otherwise (as the store pages do)."""
    form = (
        forms_in_scope(membership=request_membership(request))
        .select_related("store")
        .filter(number=number.strip()[:32])
        .first()
    )
    if form is None:
        raise Http404("No such form at this store.")
    personal_data_reads_record(
        user=cast(Any, request.user),
        membership=request_membership(request),
        forms=[form],
        reason=ReadReason.DETAIL,
    )
    return form


def _live_prepayment(form: RefundForm) -> Prepayment | None:
    """The form's prepayment that is not a declined attempt, with its guarantee."""
    return (
        Prepayment.objects.filter(form=form)
        .exclude(status=PrepaymentStatus.FAILED)
        .select_related("guarantee")
        .first()
    )


# --- One-time page tokens ------------------------------------------------------------


def _token_issue(request: HttpRequest) -> str:
    token = secrets.token_urlsafe(16)
    tokens = list(request.session.get(TOKENS_KEY, []))[-(TOKENS_KEPT - 1) :]
    request.session[TOKENS_KEY] = [*tokens, token]
    return token


def _token_spend(request: HttpRequest) -> bool:
    """Spend the posted page token; False when it was spent already (or never issued)."""
    token = request.POST.get("page_token", "")
    tokens = list(request.session.get(TOKENS_KEY, []))
    if not token or token not in tokens:
        return False
    tokens.remove(token)
    request.session[TOKENS_KEY] = tokens
    request.session.save()  # spent before the card is touched
    return True


# --- The form on the page ---------------------------------------------------------------


class PrepaymentForm(BilingualForm):
    """What the clerk enters: consent, card holder, card token, payout method."""

    consent = forms.BooleanField(
        required=True,
        label="The traveler signed the Buy & Refund consent · 旅客已签署即买即退承诺书",
        error_messages={"required": "The traveler must sign the consent · 须旅客签署承诺书"},
    )
    card_holder_name = forms.CharField(
        max_length=200,
        label="Card holder name · 持卡人姓名",
        error_messages={"required": "Enter the card holder's name · 请输入持卡人姓名"},
    )
    card_token_choice = forms.ChoiceField(
        required=False,
        choices=[("", "— typed below · 手动输入 —"), *SANDBOX_TOKENS],
        label="Card terminal (sandbox) · 刷卡终端（测试）",
    )
    card_token = forms.CharField(
        required=False,
        max_length=64,
        label="Card token from the terminal · 终端返回的卡令牌",
    )
    payout_method = forms.ChoiceField(
        choices=[(m.value, PAYOUT_LABELS[m]) for m in PayoutMethod],
        widget=forms.RadioSelect,
        label="Pay the prepayment by · 预付款支付方式",
        error_messages={"required": "Choose a payout method · 请选择支付方式"},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        typed = (data.get("card_token") or "").strip()
        token = typed or data.get("card_token_choice") or ""
        if not token:
            self.add_error("card_token", "Insert the card at the terminal · 请刷卡或输入卡令牌")
        data["token"] = token
        return data


def _deadline(form: RefundForm) -> Any:
    days = buy_and_refund_days(region_code=form.store.region_code, day=form.purchase_date)
    return (form.purchase_date + timedelta(days=days), days) if days is not None else (None, None)


def _render_pay(
    request: HttpRequest,
    form: RefundForm,
    entry: PrepaymentForm,
    *,
    error: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    deadline, window_days = _deadline(form)
    declined = (
        Prepayment.objects.filter(form=form, status=PrepaymentStatus.FAILED)
        .select_related("guarantee")
        .order_by("-created_at")
        .first()
    )
    return render(
        request,
        "buyrefund/store_prepayment.html",
        {
            "store": clerk_store(request),
            "nav": "home",
            "f": form,
            "entry": entry,
            "page_token": _token_issue(request),
            "deadline": deadline,
            "window_days": window_days,
            "cash_cap": policy_on(form.purchase_date).cash_cap,
            "error": error,
            "declined": declined,
            "prepayable": form.buy_and_refund
            and form.store.buy_and_refund
            and form.status == FormStatus.ISSUED,
            "mode": "pay",
        },
        status=status,
    )


def _error(exc: ApplicationError) -> dict[str, str]:
    return {
        "code": exc.code,
        "title": ERROR_TITLES.get(exc.code, exc.code.replace("_", " ").capitalize()),
        # Where a bilingual hint exists it says what the service message says, and more.
        "detail": "" if exc.code in ERROR_HINTS else exc.message,
        "hint": ERROR_HINTS.get(exc.code, ""),
    }


def _page_url(form: RefundForm) -> str:
    return reverse("store_prepayment:prepayment", kwargs={"number": form.number})


@require_http_methods(["GET", "POST"])
@clerk_required
def prepayment_page(request: HttpRequest, number: str) -> HttpResponse:
    """GET: the prepayment form, or the paid prepayment and its guarantee. POST: pay."""
    form = _form_in_store(request, number)
    existing = _live_prepayment(form)
    if request.method == "GET":
        if existing is not None and existing.status != PrepaymentStatus.PENDING:
            return _render_status(request, form, existing, mode=_status_mode(existing))
        return _render_pay(request, form, PrepaymentForm(initial={"payout_method": "cash"}))
    if not _token_spend(request):
        messages.warning(
            request,
            "This page was already submitted; showing the form's prepayment now."
            " · 页面已提交，以下为当前预付状态。",
        )
        return redirect(_page_url(form))
    entry = PrepaymentForm(request.POST)
    if not entry.is_valid():
        return _render_pay(request, form, entry, status=400)
    try:
        prepayment = prepayment_pay(
            form_number=form.number,
            clerk=cast(Any, request.user),
            store=clerk_store(request),
            card_token=entry.cleaned_data["token"],
            card_holder_name=entry.cleaned_data["card_holder_name"],
            payout_method=entry.cleaned_data["payout_method"],
            # This browser session resumes its own unanswered authorization, no other.
            attempt=f"page:{request.session.session_key or ''}:{form.number}",
        )
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("No such form at this store.") from exc
        form.refresh_from_db()
        for name in (exc.extra or {}).get("fields", {}):
            if name in entry.fields:
                entry.add_error(name, exc.message)
        return _render_pay(request, form, entry, error=_error(exc), status=exc.status_code)
    if prepayment.status == PrepaymentStatus.AWAITING_HANDOVER:
        # Only this request is told to hand the cash over; anyone else sees the state.
        messages.success(
            request,
            f"Guarantee authorized · 担保预授权成功. Hand over RMB {prepayment.amount} in cash"
            " now, then confirm below · 请现在支付现金，然后在下方确认。",
        )
    else:
        messages.success(
            request,
            f"Prepayment paid and guarantee authorized · 预付款已支付，担保预授权成功"
            f" ({form.number}).",
        )
    return redirect(_page_url(form))


def _status_mode(prepayment: Prepayment) -> str:
    return "handover" if prepayment.status == PrepaymentStatus.AWAITING_HANDOVER else "status"


@require_http_methods(["POST"])
@clerk_required
def prepayment_handover_page(request: HttpRequest, number: str) -> HttpResponse:
    """One click: the clerk confirms the cash prepayment left the drawer (recorded, ledgered)."""
    form = _form_in_store(request, number)
    try:
        prepayment_handover(
            form_number=form.number, clerk=cast(Any, request.user), store=clerk_store(request)
        )
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("No such form at this store.") from exc
        existing = _live_prepayment(form)
        if existing is None:
            return redirect(_page_url(form))
        return _render_status(
            request,
            form,
            existing,
            mode=_status_mode(existing),
            error=_error(exc),
            status=exc.status_code,
        )
    messages.success(request, "Cash handed over: prepayment paid · 现金已交付，预付款已支付。")
    return redirect(_page_url(form))


def _render_status(
    request: HttpRequest,
    form: RefundForm,
    prepayment: Prepayment,
    *,
    mode: str = "status",
    error: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    guarantee: Guarantee = prepayment.guarantee
    return render(
        request,
        "buyrefund/store_prepayment.html",
        {
            "store": clerk_store(request),
            "nav": "home",
            "f": form,
            "p": prepayment,
            "g": guarantee,
            "payout_label": PAYOUT_LABELS.get(
                cast(Any, prepayment.payout_method), prepayment.payout_method
            ),
            "returnable": prepayment.status
            in (PrepaymentStatus.PAID, PrepaymentStatus.AWAITING_HANDOVER)
            and form.status == FormStatus.ISSUED,
            "page_token": _token_issue(request) if mode == "return" else "",
            "error": error,
            "mode": mode,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@clerk_required
def prepayment_return_page(request: HttpRequest, number: str) -> HttpResponse:
    """Confirm, then record that the traveler gave the prepayment back (hold released)."""
    form = _form_in_store(request, number)
    existing = _live_prepayment(form)
    if existing is None:
        return redirect(_page_url(form))
    if request.method == "GET":
        return _render_status(request, form, existing, mode="return")
    if not _token_spend(request):
        messages.warning(request, "This page was already submitted · 页面已提交。")
        return redirect(_page_url(form))
    try:
        prepayment_return(
            form_number=form.number, clerk=cast(Any, request.user), store=clerk_store(request)
        )
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("No such form at this store.") from exc
        form.refresh_from_db()
        existing.refresh_from_db()
        return _render_status(
            request, form, existing, mode="return", error=_error(exc), status=exc.status_code
        )
    messages.success(
        request,
        "Prepayment returned; the card guarantee is released · 预付款已退回，担保预授权已释放."
        " The form can now be voided · 现可作废申请单。",
    )
    return redirect(_page_url(form))
