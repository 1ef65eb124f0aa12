"""Idempotency-Key support for POSTs that move money or state.

The first request with a key inserts a pending record (its own short
transaction, guarded by a unique constraint), runs the view, then stores the
answer. A retry with the same key and body replays that answer; a concurrent
retry waits for it; the same key with another body gets 422
``idempotency_key_reused``. Only definite answers (2xx, 4xx) are stored; a
500 (rolled back in-process) frees the key so the client may retry. A key
whose first request died mid-way (pending past STALE_AFTER) is never re-run:
409 ``idempotency_outcome_unknown``, since its work may have committed.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder as DRFJSONEncoder

from core.api.errors import error_body
from core.models import IdempotencyRecord
from core.signing import sha256_hex

HEADER = "Idempotency-Key"
STALE_AFTER = timedelta(minutes=5)


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
                    # The first request died between its work and its answer: its
                    # work may have committed. Running it again could issue or pay
                    # twice, so say so and let the client look before retrying.
                    return Response(
                        error_body(
                            "idempotency_outcome_unknown",
                            "The first request with this Idempotency-Key did not finish;"
                            " its outcome is unknown. Check the record, then retry with a"
                            " new key.",
                            {"since": existing.created_at.isoformat()},
                        ),
                        status=409,
                    )
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
            try:
                response = view(self, request, *args, **kwargs)
            except Exception as exc:
                # Domain and DRF errors become definite 4xx answers that are stored;
                # anything else re-raises here and frees the key below.
                response = self.handle_exception(exc)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
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
    """The body as the client saw it: encoded the way DRF's JSON renderer encodes it."""
    return json.loads(json.dumps(data, cls=DRFJSONEncoder))
