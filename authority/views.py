"""The authority portal (/authority/): statistics, the store registry, ledger audit, risk signals.

Read-only: every view answers GET (and HEAD) only, to the tax authority analyst
only, and records the read (``authority_read_record``) before answering.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from functools import wraps
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.safestring import mark_safe

from authority import proofs
from authority.charts import bar_chart_svg
from authority.exports import table_csv, table_xlsx
from authority.models import FilingStatus, SignalCode, TaxpayerRating
from authority.risk import CASE_HEADER, risk_signals, risk_table
from authority.selectors import (
    RegistryFilter,
    recent_reads,
    registry_rows,
    store_filing_history,
)
from authority.services import authority_read_record
from authority.statistics import (
    CSV_HEADER,
    GROUPINGS,
    statistics_filename,
    statistics_for,
    statistics_table,
)
from core.models import LedgerEntry, StaffRole, Store
from core.selectors import membership_of
from stores.countries import country_names
from stores.models import GoodsCategory

View = Callable[..., HttpResponse]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EARLIEST = date(2015, 1, 1)
GROUP_LABELS = {
    "nationality": ("Nationality", "国籍"),
    "port": ("Port", "口岸"),
    "store": ("Store", "商店"),
    "category": ("Goods category", "商品类别"),
    "month": ("Month", "月份"),
}


def analyst_required(view: View) -> View:
    """Logged-in analysts only, GET/HEAD only: the portal never writes (others get 403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        membership = membership_of(request.user)
        if membership is None or membership.role != StaffRole.ANALYST:
            raise PermissionDenied("The authority portal is for the tax authority.")
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("The authority portal is read-only.")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def _date(text: str | None, default: date) -> date:
    try:
        day = date.fromisoformat(text) if text else default
    except ValueError:
        return default
    return min(max(day, EARLIEST), timezone.localdate() + timedelta(days=366))


def _period(request: HttpRequest) -> tuple[date, date]:
    today = timezone.localdate()
    start = _date(request.GET.get("from"), today.replace(month=1, day=1))
    end = _date(request.GET.get("to"), today)
    if start > end:
        start, end = end, start
    return start, end


def _download(data: bytes, fmt: str, filename: str) -> HttpResponse:
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else XLSX_TYPE
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _key_label(by: str, key: str | None) -> str:
    if key is None:
        return "Not yet at a port" if by == "port" else "—"
    if by == "nationality":
        names = country_names(key)
        return f"{key} {names[0]}" if names else key
    if by == "category":
        return str(GoodsCategory(key).label) if key in GoodsCategory.values else key
    return key


@analyst_required
def statistics(request: HttpRequest) -> HttpResponse:
    """Figures of a period grouped one way, with a chart, a table and CSV/XLSX exports."""
    start, end = _period(request)
    by = request.GET.get("by") or "month"
    if by not in GROUPINGS:
        by = "month"
    fmt = request.GET.get("format", "")
    authority_read_record(
        user=request.user,
        what="statistics",
        detail=f"by={by} from={start} to={end}" + (f" format={fmt}" if fmt else ""),
    )
    stats = statistics_for(start=start, end=end, by=by)
    if fmt in ("csv", "xlsx"):
        table = statistics_table(stats)
        if fmt == "csv":
            data = table_csv(CSV_HEADER, table)
        else:
            data = table_xlsx(
                "Statistics",
                CSV_HEADER,
                table,
                preamble=[["from", start, "to", end, "by", by]],
            )
        return _download(data, fmt, statistics_filename(stats, fmt))
    rows = [(row, _key_label(by, row.key)) for row in stats.rows]
    label, label_zh = GROUP_LABELS[by]
    charts = [
        bar_chart_svg(
            [(text, row.sales, row.forms) for row, text in rows],
            title=f"Sales (VAT included) by {label.lower()}",
            chart_id="chart-sales",
        ),
        bar_chart_svg(
            [(text, row.net_refund, row.forms) for row, text in rows],
            title=f"Net refunds by {label.lower()}",
            chart_id="chart-net",
        ),
    ]
    query = f"from={start.isoformat()}&to={end.isoformat()}&by={by}"
    return render(
        request,
        "authority/statistics.html",
        {
            "nav": "statistics",
            "stats": stats,
            "rows": rows,
            "by": by,
            "groupings": [(key, *GROUP_LABELS[key]) for key in GROUPINGS],
            "key_label": label,
            "key_label_zh": label_zh,
            "charts": [mark_safe(chart) for chart in charts],  # noqa: S308 - escaped inside
            "query": query,
        },
    )


@analyst_required
def registry(request: HttpRequest) -> HttpResponse:
    """Every store's filing on a day, filtered by status, rating, region or name; exports."""
    today = timezone.localdate()
    filters = RegistryFilter(
        day=_date(request.GET.get("day"), today),
        status=request.GET.get("status", "")
        if request.GET.get("status", "") in {*FilingStatus.values, "unfiled"}
        else "",
        rating=request.GET.get("rating", "")
        if request.GET.get("rating", "") in TaxpayerRating.values
        else "",
        region=request.GET.get("region", "")[:2],
        query=request.GET.get("q", "").strip()[:64],
    )
    fmt = request.GET.get("format", "")
    authority_read_record(
        user=request.user,
        what="registry",
        detail=f"day={filters.day} status={filters.status} rating={filters.rating}"
        f" region={filters.region} q={filters.query}" + (f" format={fmt}" if fmt else ""),
    )
    stores = list(registry_rows(filters=filters))
    if fmt in ("csv", "xlsx"):
        header = [
            "store",
            "name",
            "region",
            "city",
            "taxpayer_id",
            "status",
            "rating",
            "effective_from",
            "filed_on",
            "filing_number",
        ]
        table = [
            [
                s.code,
                s.name,
                s.region_code,
                s.city,
                s.taxpayer_id,
                getattr(s, "filing_status", None) or "unfiled",
                getattr(s, "filing_rating", None) or "",
                getattr(s, "filing_effective_from", None),
                getattr(s, "filing_filed_on", None),
                getattr(s, "filing_number", None) or "",
            ]
            for s in stores
        ]
        name = f"store-registry-{filters.day.isoformat()}.{fmt}"
        if fmt == "csv":
            return _download(table_csv(header, table), fmt, name)
        return _download(
            table_xlsx("Registry", header, table, preamble=[["on", filters.day]]), fmt, name
        )
    regions = sorted(set(Store.objects.values_list("region_code", flat=True)))
    return render(
        request,
        "authority/registry.html",
        {
            "nav": "registry",
            "stores": stores,
            "filters": filters,
            "statuses": [*FilingStatus.choices, ("unfiled", "Never filed")],
            "ratings": TaxpayerRating.choices,
            "regions": regions,
            "query": request.GET.urlencode(),
        },
    )


@analyst_required
def registry_store(request: HttpRequest, code: str) -> HttpResponse:
    """One store's filing history (every effective-dated state) and its ledger entries."""
    store = get_object_or_404(Store, code=code)
    authority_read_record(user=request.user, what="registry_store", detail=store.code)
    entries = LedgerEntry.objects.filter(record_type="core.store", record_id=str(store.pk))
    return render(
        request,
        "authority/registry_store.html",
        {
            "nav": "registry",
            "store": store,
            "filings": list(store_filing_history(store=store)),
            "entries": list(entries.order_by("seq")),
        },
    )


@analyst_required
def ledger(request: HttpRequest) -> HttpResponse:
    """Ledger audit: the signed heads, a record's entries and its proof to download."""
    kind = request.GET.get("kind", "forms")
    ident = request.GET.get("id", "").strip()[:32]
    authority_read_record(
        user=request.user, what="ledger", detail=f"{kind} {ident}" if ident else "heads"
    )
    record = None
    proof = None
    searched = bool(ident)
    if ident and kind in proofs.KINDS:
        record = proofs.proof_record(kind=kind, ident=ident)
        if record is not None:
            proof = proofs.record_proof(record)
    heads = proofs.latest_heads(limit=20)
    return render(
        request,
        "authority/ledger.html",
        {
            "nav": "ledger",
            "heads": [proofs.head_dict(h) for h in heads],
            "kind": kind,
            "ident": ident,
            "searched": searched,
            "record": record,
            "proof": proof,
            "kinds": [("forms", "Form"), ("invoices", "Invoice"), ("refunds", "Refund (id)")],
        },
    )


@analyst_required
def ledger_proof_download(request: HttpRequest, kind: str, ident: str) -> HttpResponse:
    """The same proof as the API, as a file for scripts/verify_proof.py."""
    record = proofs.proof_record(kind=kind, ident=ident)
    if record is None:
        raise Http404("No such record.")
    authority_read_record(user=request.user, what="ledger_proof", detail=f"{kind} {ident}")
    body = json.dumps(proofs.record_proof(record), indent=2, ensure_ascii=False)
    response = HttpResponse(body.encode(), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="proof-{kind}-{ident}.json"'
    return response


@analyst_required
def risk(request: HttpRequest) -> HttpResponse:
    """Every risk signal over a period with its cases and evidence; exports."""
    today = timezone.localdate()
    start = _date(request.GET.get("from"), today - timedelta(days=30))
    end = _date(request.GET.get("to"), today)
    if start > end:
        start, end = end, start
    fmt = request.GET.get("format", "")
    authority_read_record(
        user=request.user,
        what="risk",
        detail=f"from={start} to={end}" + (f" format={fmt}" if fmt else ""),
    )
    results = risk_signals(start=start, end=end)
    if fmt in ("csv", "xlsx"):
        table = risk_table(results)
        name = f"risk-signals-{start.isoformat()}-{end.isoformat()}.{fmt}"
        if fmt == "csv":
            return _download(table_csv(CASE_HEADER, table), fmt, name)
        return _download(
            table_xlsx("Risk signals", CASE_HEADER, table, preamble=[["from", start, "to", end]]),
            fmt,
            name,
        )
    return render(
        request,
        "authority/risk.html",
        {
            "nav": "risk",
            "results": results,
            "start": start,
            "end": end,
            "query": f"from={start.isoformat()}&to={end.isoformat()}",
            "signal_codes": SignalCode,
        },
    )


@analyst_required
def reads(request: HttpRequest) -> HttpResponse:
    """The authority's own recorded reads (the latest 100)."""
    authority_read_record(user=request.user, what="reads")
    return render(
        request, "authority/reads.html", {"nav": "reads", "reads": list(recent_reads(limit=100))}
    )
