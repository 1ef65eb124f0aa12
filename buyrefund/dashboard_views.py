"""The Buy & Refund guarantees dashboard (/agency/guarantees/): read-only."""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from agencies.views import agent_required
from buyrefund.selectors import EXPIRING_WITHIN_DAYS, guarantees_dashboard
from core.api.permissions import request_membership
from core.models import Agency
from stores.scopes import ReadReason, personal_data_reads_record


def _preview_day(value: str | None, today: date) -> date:
    """``?today=YYYY-MM-DD`` (a sweep day to preview, within a year); else today."""
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        return today
    if abs((day - today).days) > 366:
        return today
    return day


@require_GET
@agent_required
def guarantees(request: HttpRequest, agency: Agency) -> HttpResponse:
    """Due, expiring, open and this month's settled guarantees of the agent's agency."""
    today = timezone.localdate()
    day = _preview_day(request.GET.get("today"), today)
    board = guarantees_dashboard(agency_id=agency.pk, day=day)
    personal_data_reads_record(
        user=request.user,  # type: ignore[arg-type]
        membership=request_membership(request),
        forms=[
            row.guarantee.form_id
            for section in (board.due, board.expiring, board.open, board.settled)
            for row in section.rows
        ],
        reason=ReadReason.LIST,
    )
    sections = [
        (board.due, "Due today", "今日到期", "The sweep on this day releases or captures these."),
        (
            board.expiring,
            "Holds expiring",
            "担保即将到期",
            f"Card holds expiring within {EXPIRING_WITHIN_DAYS} days: they will be re-authorized.",
        ),
        (board.open, "Open", "未结担保", "Authorized or re-authorized holds."),
        (
            board.settled,
            "Settled this month",
            "本月已结",
            f"Released, captured or partially captured in {board.month:%Y-%m}.",
        ),
    ]
    return render(
        request,
        "buyrefund/guarantees.html",
        {
            "nav": "guarantees",
            "agency": agency,
            "board": board,
            "sections": sections,
            "today": today,
            "preview": day != today,
            "min_day": today - timedelta(days=366),
            "max_day": today + timedelta(days=366),
        },
    )
