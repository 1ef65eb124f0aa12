"""Risk signals for the tax authority (and, by port, customs): patterns worth a look.

Each signal is a rule with thresholds an administrator sets (``RiskSignalRule``);
it lists cases with their evidence and never refuses anything on its own.
Every rule is a few aggregate queries over the period, then one query for the
evidence of at most ``MAX_CASES`` cases.

| rule | threshold | parameter |
|---|---|---|
| many_stores_one_day | stores one traveler bought at on one day (3) | — |
| just_under_threshold | one traveler's forms just under the threshold (3) | margin, % (10) |
| store_void_rate | voided share of a store's forms, % (20) | minimum forms issued (10) |
| far_port_fast | hours from issue to verification at a port in another city (6) | — |
| kiosk_form_locks | kiosk locks of one form number (2) | — |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from authority.models import RiskSignalRule, SignalCode
from core.money import money_str
from customs.models import InspectionPolicy, Verification
from kiosk.models import KioskFormLock
from stores.models import FormStatus, RefundForm

MAX_CASES = 200
DEFAULTS: dict[str, tuple[Decimal, Decimal]] = {
    SignalCode.MANY_STORES_ONE_DAY: (Decimal("3"), Decimal("0")),
    SignalCode.JUST_UNDER_THRESHOLD: (Decimal("3"), Decimal("10")),
    SignalCode.STORE_VOID_RATE: (Decimal("20"), Decimal("10")),
    SignalCode.FAR_PORT_FAST: (Decimal("6"), Decimal("0")),
    SignalCode.KIOSK_FORM_LOCKS: (Decimal("2"), Decimal("0")),
}
SIGNAL_HELP: dict[str, str] = {
    SignalCode.MANY_STORES_ONE_DAY: "threshold: distinct stores one traveler bought at on one day",
    SignalCode.JUST_UNDER_THRESHOLD: (
        "threshold: forms of one traveler in the period with totals just under the inspection"
        " threshold; parameter: how far under it counts, in % of the threshold"
    ),
    SignalCode.STORE_VOID_RATE: (
        "threshold: voided share of the store's forms in %; parameter: minimum forms issued"
    ),
    SignalCode.FAR_PORT_FAST: (
        "threshold: hours between issue and verification at a port in another city"
    ),
    SignalCode.KIOSK_FORM_LOCKS: (
        "threshold: kiosk locks of one form number (five wrong document numbers each)"
    ),
}


@dataclass(frozen=True)
class Case:
    """One case a signal found, with what makes it one."""

    code: str
    day: date | None
    subject: str
    detail: str
    forms: list[str] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "signal": self.code,
            "date": self.day.isoformat() if self.day else None,
            "subject": self.subject,
            "detail": self.detail,
            "forms": self.forms,
            "stores": self.stores,
            "ports": self.ports,
        }


@dataclass(frozen=True)
class SignalResult:
    """One rule's settings and its cases over a period."""

    code: str
    label: str
    enabled: bool
    threshold: Decimal
    parameter: Decimal
    help: str
    pending: bool
    cases: list[Case]


def rules_in_force() -> dict[str, RiskSignalRule]:
    """The admin's rules, with the defaults for any row missing."""
    rows = {rule.code: rule for rule in RiskSignalRule.objects.all()}
    for code, (threshold, parameter) in DEFAULTS.items():
        rows.setdefault(code, RiskSignalRule(code=code, threshold=threshold, parameter=parameter))
    return rows


def _traveler(form: RefundForm) -> str:
    return f"{form.traveler_name} ({form.nationality}, {form.document_masked})"


def _port_of(form: RefundForm) -> str | None:
    verification = getattr(form, "verification", None)
    return verification.port.code if verification is not None else None


def _evidence(forms: Iterable[RefundForm]) -> tuple[list[str], list[str], list[str]]:
    numbers, stores, ports = [], set(), set()
    for form in forms:
        numbers.append(form.number)
        stores.add(form.store.code)
        port = _port_of(form)
        if port:
            ports.add(port)
    return numbers, sorted(stores), sorted(ports)


def _forms_with_evidence() -> Any:
    return RefundForm.objects.select_related("store", "verification__port").order_by("issued_at")


def _many_stores_one_day(rule: RiskSignalRule, start: date, end: date) -> list[Case]:
    groups = list(
        RefundForm.objects.filter(purchase_date__gte=start, purchase_date__lte=end)
        .exclude(status=FormStatus.VOIDED)
        .order_by()
        .values("document_hash", "purchase_date")
        .annotate(stores=Count("store_id", distinct=True))
        .filter(stores__gte=int(rule.threshold))
        .order_by("-stores", "purchase_date")[:MAX_CASES]
    )
    if not groups:
        return []
    wanted = Q()
    for group in groups:
        wanted |= Q(document_hash=group["document_hash"], purchase_date=group["purchase_date"])
    by_group: dict[tuple[str, date], list[RefundForm]] = {}
    for form in _forms_with_evidence().filter(wanted).exclude(status=FormStatus.VOIDED):
        by_group.setdefault((form.document_hash, form.purchase_date), []).append(form)
    cases = []
    for group in groups:
        forms = by_group.get((group["document_hash"], group["purchase_date"]), [])
        if not forms:
            continue
        numbers, stores, ports = _evidence(forms)
        cases.append(
            Case(
                code=SignalCode.MANY_STORES_ONE_DAY,
                day=group["purchase_date"],
                subject=_traveler(forms[0]),
                detail=f"{len(forms)} forms at {group['stores']} stores on one day",
                forms=numbers,
                stores=stores,
                ports=ports,
            )
        )
    return cases


def inspection_threshold() -> Decimal:
    """The lowest inspection threshold of any port (the platform default when none is set)."""
    lowest = (
        InspectionPolicy.objects.order_by("threshold").values_list("threshold", flat=True).first()
    )
    default: Decimal = InspectionPolicy._meta.get_field("threshold").default
    return lowest if lowest is not None else default


def _just_under_threshold(rule: RiskSignalRule, start: date, end: date) -> list[Case]:
    ceiling = inspection_threshold()
    floor = ceiling * (1 - rule.parameter / 100)
    near = (
        RefundForm.objects.filter(purchase_date__gte=start, purchase_date__lte=end)
        .exclude(status=FormStatus.VOIDED)
        .filter(total__gte=floor, total__lt=ceiling)
    )
    groups = list(
        near.order_by()
        .values("document_hash")
        .annotate(forms=Count("id"))
        .filter(forms__gte=int(rule.threshold))
        .order_by("-forms")[:MAX_CASES]
    )
    hashes = [g["document_hash"] for g in groups]
    by_traveler: dict[str, list[RefundForm]] = {}
    for form in _forms_with_evidence().filter(pk__in=near.values("pk"), document_hash__in=hashes):
        by_traveler.setdefault(form.document_hash, []).append(form)
    cases = []
    for group in groups:
        forms = by_traveler.get(group["document_hash"], [])
        if not forms:
            continue
        numbers, stores, ports = _evidence(forms)
        totals = ", ".join(money_str(f.total) for f in forms)
        cases.append(
            Case(
                code=SignalCode.JUST_UNDER_THRESHOLD,
                day=forms[-1].purchase_date,
                subject=_traveler(forms[0]),
                detail=(
                    f"{len(forms)} forms between RMB {money_str(floor)} and the inspection"
                    f" threshold RMB {money_str(ceiling)}: {totals}"
                ),
                forms=numbers,
                stores=stores,
                ports=ports,
            )
        )
    return cases


def _store_void_rate(rule: RiskSignalRule, start: date, end: date) -> list[Case]:
    rows = (
        RefundForm.objects.filter(purchase_date__gte=start, purchase_date__lte=end)
        .order_by()
        .values("store__code", "store__name")
        .annotate(
            issued=Count("id"),
            voided=Count("id", filter=Q(status=FormStatus.VOIDED)),
        )
        .filter(issued__gte=max(int(rule.parameter), 1))
    )
    cases = []
    for row in rows:
        rate = Decimal(row["voided"] * 100) / row["issued"]
        if rate < rule.threshold:
            continue
        cases.append(
            Case(
                code=SignalCode.STORE_VOID_RATE,
                day=None,
                subject=f"{row['store__code']} {row['store__name']}",
                detail=(
                    f"{row['voided']} of {row['issued']} forms voided"
                    f" ({rate.quantize(Decimal('0.1'))}%)"
                ),
                stores=[row["store__code"]],
            )
        )
    cases.sort(key=lambda case: case.subject)
    return cases[:MAX_CASES]


def _far_port_fast(rule: RiskSignalRule, start: date, end: date) -> list[Case]:
    hours = timedelta(hours=float(rule.threshold))
    verifications = (
        Verification.objects.filter(
            form__purchase_date__gte=start,
            form__purchase_date__lte=end,
            verified_at__lt=F("form__issued_at") + hours,
        )
        .exclude(port__city=F("form__store__city"))
        .select_related("form__store", "port")
        .order_by("verified_at")[:MAX_CASES]
    )
    cases = []
    for verification in verifications:
        form = verification.form
        elapsed = verification.verified_at - form.issued_at
        minutes = int(elapsed.total_seconds() // 60)
        cases.append(
            Case(
                code=SignalCode.FAR_PORT_FAST,
                day=form.purchase_date,
                subject=_traveler(form),
                detail=(
                    f"issued in {form.store.city} ({form.store.code}), verified at"
                    f" {verification.port.code} ({verification.port.city})"
                    f" {minutes // 60} h {minutes % 60:02d} min later"
                ),
                forms=[form.number],
                stores=[form.store.code],
                ports=[verification.port.code],
            )
        )
    return cases


def _kiosk_form_locks(rule: RiskSignalRule, start: date, end: date) -> list[Case]:
    """Form numbers the kiosk locked again and again (5 wrong document numbers each time).

    Counts the kiosk's lock records per form number over the period (threshold: locks of
    one number); ``client`` tells how many places the guesses came from. Unknown numbers
    are listed too: someone walking numbers locks forms that do not exist.
    """
    found = (
        KioskFormLock.objects.filter(locked_at__date__gte=start, locked_at__date__lte=end)
        .order_by()
        .values("number")
        .annotate(
            locks=Count("id"),
            places=Count("client", distinct=True),
            first=Min("locked_at"),
            last=Max("locked_at"),
        )
        .filter(locks__gte=max(int(rule.threshold), 1))
        .order_by("-locks", "number")[:MAX_CASES]
    )
    rows = list(found)
    forms = {
        form.number: form
        for form in _forms_with_evidence().filter(number__in=[row["number"] for row in rows])
    }
    cases = []
    for row in rows:
        form = forms.get(row["number"])
        first, last = (timezone.localtime(row[k]) for k in ("first", "last"))
        places = "one place" if row["places"] == 1 else f"{row['places']} places"
        detail = (
            f"form {row['number']} locked {row['locks']} times from {places},"
            f" {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
        )
        if form is None:
            cases.append(
                Case(
                    code=SignalCode.KIOSK_FORM_LOCKS,
                    day=last.date(),
                    subject=f"no such form ({row['number']})",
                    detail=detail,
                )
            )
            continue
        numbers, stores, ports = _evidence([form])
        cases.append(
            Case(
                code=SignalCode.KIOSK_FORM_LOCKS,
                day=last.date(),
                subject=_traveler(form),
                detail=detail,
                forms=numbers,
                stores=stores,
                ports=ports,
            )
        )
    return cases


SIGNALS: dict[str, Callable[[RiskSignalRule, date, date], list[Case]]] = {
    SignalCode.MANY_STORES_ONE_DAY: _many_stores_one_day,
    SignalCode.JUST_UNDER_THRESHOLD: _just_under_threshold,
    SignalCode.STORE_VOID_RATE: _store_void_rate,
    SignalCode.FAR_PORT_FAST: _far_port_fast,
    SignalCode.KIOSK_FORM_LOCKS: _kiosk_form_locks,
}
PENDING: set[str] = set()


def risk_signals(*, start: date, end: date, port_code: str | None = None) -> list[SignalResult]:
    """Every signal over the period; with ``port_code`` only cases involving that port."""
    results = []
    for code, rule in rules_in_force().items():
        cases = SIGNALS[code](rule, start, end) if rule.enabled else []
        if port_code is not None:
            cases = [case for case in cases if port_code in case.ports]
        results.append(
            SignalResult(
                code=code,
                label=SignalCode(code).label,
                enabled=rule.enabled,
                threshold=rule.threshold,
                parameter=rule.parameter,
                help=SIGNAL_HELP[code],
                pending=code in PENDING,
                cases=cases,
            )
        )
    results.sort(key=lambda result: list(SIGNALS).index(result.code))
    return results


CASE_HEADER = ["signal", "date", "subject", "detail", "forms", "stores", "ports"]


def risk_table(results: Iterable[SignalResult]) -> list[list[Any]]:
    """One export row per case."""
    return [
        [
            case.code,
            case.day,
            case.subject,
            case.detail,
            " ".join(case.forms),
            " ".join(case.stores),
            " ".join(case.ports),
        ]
        for result in results
        for case in result.cases
    ]
