"""Idempotency-Key support for POSTs that move money or state (SPEC §4).

The first request with a key inserts a pending record (its own short
transaction, guarded by a unique constraint) carrying a random ``attempt`` and
a lease, runs the view, then stores the answer. A retry with the same key and
body replays that answer; the same key with another body gets 422
``idempotency_key_reused``.

A retry while the first attempt holds its lease waits at most
``IDEMPOTENCY_WAIT_SECONDS`` (a second) and then answers 409
``idempotency_in_progress`` with ``Retry-After``: never a wait near a server
timeout. Once the lease has expired the attempt is taken as dead and resolved:

- atomic views (the default: one transaction, no network call) run inside one
  transaction together with storing their answer, so a dead attempt committed
  nothing and the retry takes the record over and runs the view again;
- views that call a gateway (``@idempotent(resolve=...)``) bind what they
  create to the record (``idempotency_bind``) in the same transaction that
  creates it. Unbound: nothing was created, the retry runs the view again.
  Bound: the view's resolver reads the record's current state: a final answer
  is stored and replayed; an operation still being settled by the system's
  reconciling task answers 409 ``idempotency_in_progress`` until it is settled
  (``idempotency_settle_stale`` stores the final answer as soon as it is).
- views whose success answer their resolver rebuilds exactly from what they
  created, found by the request's own ``current_attempt()``
  (``@idempotent(resolve=..., answered_by=<resource label>)``), do not store it:
  the record is bound to the resource kind when it is claimed, and a request
  with the key again is answered by the resolver at once, even while the first
  attempt's lease runs (one statement less per request: issue 12).

Every write of a record is fenced by its ``attempt``: an attempt that outlived
its lease and was taken over can neither bind nor store an answer (its
transaction rolls back), so a key never runs twice at once.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder

from core.api.errors import error_body
from core.exceptions import StateConflict
from core.models import IdempotencyRecord
from core.signing import sha256_hex
from core.sql import insert_row

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"


class IdempotencyAttemptSuperseded(StateConflict):
    """This attempt outlived its lease and a retry took the key over: it must not commit."""

    default_code = "idempotency_in_progress"


@dataclass(frozen=True)
class Resolution:
    """What a dead attempt's bound record answers now.

    ``final``: store and replay ``status``/``body``; not final: 409 in progress
    (the system is still settling it); ``rerun``: nothing was done, run again;
    ``unbound``: nothing was created at all (a record bound by attempt whose
    attempt died first): the reconciling sweep frees it as an unbound one.
    """

    final: bool = False
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    rerun: bool = False
    retry_after: int = 30
    unbound: bool = False


Resolver = Callable[[IdempotencyRecord], Resolution]

# The record the current request runs under (set by the decorator, read by bind).
_current: ContextVar[IdempotencyRecord | None] = ContextVar("idempotency_record", default=None)
# resource label -> resolver, for the reconciling sweep (idempotency_settle_stale).
_resolvers: dict[str, Resolver] = {}


def lease() -> timedelta:
    """How long an attempt is presumed alive (longer than any server timeout)."""
    return timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)


def _lease_end(record: IdempotencyRecord) -> Any:
    return record.lease_expires_at or record.created_at + lease()


def idempotency_bind(obj: models.Model) -> None:
    """Bind what the current idempotent request created to its record (caller's transaction).

    A no-op outside an idempotent request. Raises IdempotencyAttemptSuperseded
    (rolling the caller's transaction back) when a retry took the key over.
    """
    record = _current.get()
    if record is None:
        return
    label = obj._meta.label_lower
    updated = IdempotencyRecord.objects.filter(
        pk=record.pk, attempt=record.attempt, status=IdempotencyRecord.Status.PENDING
    ).update(resource=label, resource_id=str(obj.pk))
    if not updated:
        raise IdempotencyAttemptSuperseded(
            "A retry took this Idempotency-Key over; this attempt stops here."
        )
    record.resource, record.resource_id = label, str(obj.pk)


def current_attempt() -> str:
    """An identity of the current idempotent request: its user and key (``""`` outside one).

    Stable across the record being freed (a 5xx) and created again by a retry.
    """
    record = _current.get()
    if record is None:
        return ""
    return record_attempt(record)


def record_attempt(record: IdempotencyRecord) -> str:
    """``current_attempt()`` of the request that ran under ``record``."""
    return "idem:" + sha256_hex(f"{record.user_id}:{record.key}".encode())[:40]


def register_resolver(resource: str, resolver: Resolver) -> None:
    """Let the reconciling sweep settle stale records bound to ``resource`` (app start-up)."""
    _resolvers[resource] = resolver


def _request_hash(request: Request) -> str:
    """Digest of method, path and parsed body; a body DRF cannot parse raises ParseError."""
    body: Any = request.data  # malformed JSON -> 400 before any record is written
    text = json.dumps(
        {"method": request.method, "path": request.path, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,  # Decimals, dates, uploaded files: their text is enough to compare
    )
    return sha256_hex(text.encode())


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def _reused() -> Response:
    return Response(
        error_body(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request.",
        ),
        status=422,
    )


def _in_progress(retry_after: int, extra: dict[str, Any] | None = None) -> Response:
    response = Response(
        error_body(
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed;"
            " send it again after Retry-After seconds.",
            {"retry_after": retry_after, **(extra or {})},
        ),
        status=409,
    )
    response["Retry-After"] = str(retry_after)
    return response


def _storable(response: Response) -> bool:
    """Definite answers are stored: 2xx and 4xx, except auth and throttling."""
    return 200 <= response.status_code < 500 and response.status_code not in (401, 403, 429)


def _complete(record: IdempotencyRecord, *, status: int, body: Any) -> bool:
    """Store the answer if this attempt still owns the record (fenced by ``attempt``)."""
    return bool(
        IdempotencyRecord.objects.filter(
            pk=record.pk, attempt=record.attempt, status=IdempotencyRecord.Status.PENDING
        ).update(
            status=IdempotencyRecord.Status.COMPLETE,
            response_status=status,
            response_body=_jsonable(body),
            completed_at=timezone.now(),
            lease_expires_at=None,
        )
    )


def _release(record: IdempotencyRecord) -> None:
    """Free the key (a 5xx or a crash in-process): the client may send it again."""
    IdempotencyRecord.objects.filter(
        pk=record.pk, attempt=record.attempt, status=IdempotencyRecord.Status.PENDING
    ).delete()


def _resolve(record: IdempotencyRecord, resolver: Resolver | None) -> Resolution:
    """The outcome of a dead attempt, from what it bound (nothing bound: run again)."""
    if not record.resource:
        return Resolution(rerun=True)
    resolver = resolver or _resolvers.get(record.resource)
    if resolver is None:
        return Resolution(retry_after=60)
    return resolver(record)


def idempotent(
    view: Callable[..., Response] | None = None,
    *,
    resolve: Resolver | None = None,
    answered_by: str = "",
) -> Any:
    """Decorate an APIView's ``post`` so a repeated Idempotency-Key replays the first answer.

    Bare: the view runs in one transaction with its stored answer. With
    ``resolve``: the view calls a gateway outside transactions and binds what it
    creates (``idempotency_bind``); ``resolve`` turns a dead attempt's bound
    record into its answer. With ``answered_by`` too (the label of what the view
    creates, one per request, found by ``current_attempt()``): the record is bound
    to it when claimed and a success (2xx) answer is not stored, ``resolve``
    rebuilding it exactly (see ``_claim``); other answers are stored as always.
    """
    if answered_by and resolve is None:
        raise ValueError("answered_by needs the resolver that rebuilds the answer")

    def decorate(func: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(func)
        def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER, "").strip()
            if not key or not request.user.is_authenticated:
                return func(self, request, *args, **kwargs)
            if len(key) > 255:
                return Response(
                    error_body("invalid", "Idempotency-Key is longer than 255 characters."), 400
                )
            claimed = _claim(request, key, resolve, answered_by)
            if isinstance(claimed, Response):
                return claimed
            return _run(
                func,
                claimed,
                self,
                request,
                atomic=resolve is None,
                answered=bool(answered_by),
                args=args,
                kw=kwargs,
            )

        return wrapper

    if view is not None:
        return decorate(view)
    return decorate


def _claim(
    request: Request, key: str, resolver: Resolver | None, answered_by: str = ""
) -> IdempotencyRecord | Response:
    """Create (or take over from a dead attempt) the key's record; else the answer to give.

    A record bound by attempt (``answered_by``: resource, no resource id) whose first
    attempt's outcome is final is answered by the resolver at once, lease or not: that
    attempt did not store its success answer.
    """
    request_hash = _request_hash(request)
    user: Any = request.user  # authenticated (checked by the caller)
    attempt = secrets.token_hex(8)
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        try:
            record = IdempotencyRecord(
                user=user,
                key=key,
                request_hash=request_hash,
                method=request.method or "POST",
                path=request.path[:300],
                attempt=attempt,
                lease_expires_at=timezone.now() + lease(),
                resource=answered_by,
            )
            with transaction.atomic():
                insert_row(record)  # its INSERT built once per process (core.sql)
            return record
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is None:
            continue
        if existing.request_hash != request_hash:
            return _reused()
        if existing.status == IdempotencyRecord.Status.COMPLETE:
            return _replay(existing)
        if existing.resource and not existing.resource_id and resolver is not None:
            answer = resolver(existing)
            if answer.final:
                if _complete(existing, status=answer.status, body=answer.body):
                    existing.refresh_from_db()
                    return _replay(existing)
                continue  # completed or taken over meanwhile: look again
        now = timezone.now()
        lease_end = _lease_end(existing)
        if lease_end > now:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            return _in_progress(max(1, math.ceil((lease_end - now).total_seconds())))
        # The attempt holding the key is dead (its lease expired): resolve it.
        outcome = _resolve(existing, resolver)
        if outcome.final:
            if _complete(existing, status=outcome.status, body=outcome.body):
                existing.refresh_from_db()
                return _replay(existing)
            continue  # completed or taken over meanwhile: look again
        if not outcome.rerun:
            return _in_progress(outcome.retry_after, {"settling": existing.resource})
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk, attempt=existing.attempt, status=IdempotencyRecord.Status.PENDING
        ).update(attempt=attempt, lease_expires_at=now + lease())
        if taken:
            logger.warning("idempotency key %s: attempt %s took over", existing.pk, attempt)
            existing.attempt = attempt
            return existing


def _run(
    func: Callable[..., Response],
    record: IdempotencyRecord,
    view: Any,
    request: Request,
    *,
    atomic: bool,
    args: Any,
    kw: Any,
    answered: bool = False,
) -> Response:
    token = _current.set(record)
    try:
        if atomic:
            return _run_atomic(func, record, view, request, args=args, kw=kw)
        try:
            try:
                response = func(view, request, *args, **kw)
            except Exception as exc:
                # Domain and DRF errors become definite 4xx answers that are stored;
                # anything else re-raises here and frees the key below.
                response = view.handle_exception(exc)
        except BaseException:
            _release(record)
            raise
        if answered and 200 <= response.status_code < 300:
            pass  # rebuilt by the resolver from what the request created (answered_by)
        elif _storable(response):
            _complete(record, status=response.status_code, body=response.data)
        else:
            _release(record)
        return response
    finally:
        _current.reset(token)


class _Undo(Exception):
    """Roll the view's transaction back (its answer is not a definite one)."""


def _run_atomic(
    func: Callable[..., Response],
    record: IdempotencyRecord,
    view: Any,
    request: Request,
    *,
    args: Any,
    kw: Any,
) -> Response:
    """Run the view and store its answer in one transaction: all of it commits, or none."""
    response: Response | None = None
    try:
        with transaction.atomic():
            try:
                response = func(view, request, *args, **kw)
            except Exception as exc:
                response = view.handle_exception(exc)
            if not _storable(response):
                raise _Undo
            if not _complete(record, status=response.status_code, body=response.data):
                # A retry took the key over after this attempt's lease: commit nothing.
                response = _in_progress(1)
                raise _Undo
    except _Undo:
        _release(record)  # fenced: frees the key only if this attempt still holds it
        assert response is not None
        return response
    except BaseException:
        _release(record)
        raise
    return response


def idempotency_settle_stale() -> dict[str, int]:
    """Reconcile records whose attempt died: store final answers, free unbound keys.

    Run by the periodic reconciling task after the refund and guarantee sweeps:
    a record bound to a refund or prepayment the system has since settled gets
    that final answer (a retry replays it); an unbound one committed nothing and
    is deleted (a retry runs afresh).
    """
    now = timezone.now()
    stale = IdempotencyRecord.objects.filter(status=IdempotencyRecord.Status.PENDING).filter(
        models.Q(lease_expires_at__lt=now)
        | models.Q(lease_expires_at__isnull=True, created_at__lt=now - lease())
    )
    report = {"settled": 0, "freed": 0, "unsettled": 0}
    for record in stale.order_by("pk")[:1000]:
        if not record.resource:
            freed, _ = IdempotencyRecord.objects.filter(
                pk=record.pk, attempt=record.attempt, status=IdempotencyRecord.Status.PENDING
            ).delete()
            report["freed"] += int(bool(freed))
            continue
        resolver = _resolvers.get(record.resource)
        outcome = resolver(record) if resolver else Resolution()
        if outcome.unbound:
            freed, _ = IdempotencyRecord.objects.filter(
                pk=record.pk, attempt=record.attempt, status=IdempotencyRecord.Status.PENDING
            ).delete()
            report["freed"] += int(bool(freed))
            continue
        if outcome.final and _complete(record, status=outcome.status, body=outcome.body):
            report["settled"] += 1
        else:
            report["unsettled"] += 1
    return report


def _jsonable(data: Any) -> Any:
    """The body as the client saw it: encoded the way DRF's JSON renderer encodes it."""
    return json.loads(json.dumps(data, cls=DRFJSONEncoder))
