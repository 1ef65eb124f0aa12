"""Idempotency-Key support for POSTs that move money or state.

The first request with a key inserts a pending record (its own short
transaction, guarded by a unique constraint), runs the view, then stores the
answer. A retry with the same key and body replays that answer; a concurrent
retry waits for it; the same key with another body gets 422
``idempotency_key_reused``. Only definite answers (2xx, 4xx) are stored; a
500 frees the key so the client may retry.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import error_body
from core.models import IdempotencyRecord
from core.signing import canonical_json, sha256_hex

HEADER = "Idempotency-Key"
STALE_AFTER = timedelta(minutes=5)


def _request_hash(request: Request) -> str:
    try:
        body: Any = request.data
    except Exception:  # a body DRF cannot parse: hash its raw bytes
        body = request.body.decode(errors="replace")
    return sha256_hex(
        canonical_json({"method": request.method, "path": request.path, "body": body})
    )


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


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView's ``post`` so a repeated Idempotency-Key replays the first answer."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER, "").strip()
        if not key or not request.user.is_authenticated:
            return view(self, request, *args, **kwargs)
        if len(key) > 255:
            return Response(
                error_body("invalid", "Idempotency-Key is longer than 255 characters."), 400
            )
        request_hash = _request_hash(request)
        deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
        while True:
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        user=request.user,
                        key=key,
                        request_hash=request_hash,
                        method=request.method or "POST",
                        path=request.path[:300],
                    )
                break
            except IntegrityError:
                existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
                if existing is None:
                    continue
                if existing.request_hash != request_hash:
                    return _reused()
                if existing.status == IdempotencyRecord.Status.COMPLETE:
                    return _replay(existing)
                if timezone.now() - existing.created_at > STALE_AFTER:
                    IdempotencyRecord.objects.filter(
                        pk=existing.pk, status=IdempotencyRecord.Status.PENDING
                    ).delete()
                    continue
                if time.monotonic() > deadline:
                    return Response(
                        error_body(
                            "idempotency_in_progress",
                            "A request with this Idempotency-Key is still being processed.",
                        ),
                        status=409,
                    )
                time.sleep(0.05)
        try:
            response = view(self, request, *args, **kwargs)
        except Exception as exc:
            handled = self.handle_exception(exc)
            response = handled
        if 200 <= response.status_code < 500 and response.status_code not in (401, 403, 429):
            rendered_data = response.data
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status=IdempotencyRecord.Status.COMPLETE,
                response_status=response.status_code,
                response_body=_jsonable(rendered_data),
                completed_at=timezone.now(),
            )
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return response

    return wrapper


def _jsonable(data: Any) -> Any:
    import json

    return json.loads(canonical_json(data))
