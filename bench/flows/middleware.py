"""Counts the SQL statements of each request and reports them in ``X-Bench-Statements``,
and the worker's CPU time for it (microseconds, Django's whole stack) in ``X-Bench-CPU-us``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse


def statement_count(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Wraps every statement of the request on the default connection and counts them."""

    def middleware(request: HttpRequest) -> HttpResponse:
        count = 0
        # Sync workers: one request per thread at a time, so the thread's CPU time is the
        # request's (the database server's own time is not in it).
        started = time.thread_time_ns()

        def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counter):
            response = get_response(request)
        response["X-Bench-Statements"] = str(count)
        response["X-Bench-CPU-us"] = str((time.thread_time_ns() - started) // 1000)
        return response

    return middleware
