"""The one error base every domain error derives from, with its HTTP status."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business error with a stable snake_case code, a message and extra data."""

    status_code = 422
    default_code = "application_error"

    def __init__(
        self, message: str, code: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.extra = extra or {}


class RuleViolation(ApplicationError):
    """A rule of the law says no (422)."""

    status_code = 422
    default_code = "rule_violation"


class StateConflict(ApplicationError):
    """The record is not in a state that allows this (409)."""

    status_code = 409
    default_code = "state_conflict"


class NotFound(ApplicationError):
    """The record does not exist or is out of the caller's scope (404)."""

    status_code = 404
    default_code = "not_found"


class PermissionDenied(ApplicationError):
    """The caller's role may not do this (403)."""

    status_code = 403
    default_code = "permission_denied"


class BadRequest(ApplicationError):
    """Malformed input (400)."""

    status_code = 400
    default_code = "invalid"


class IdempotencyKeyReused(ApplicationError):
    """The same Idempotency-Key came with another body (422)."""

    status_code = 422
    default_code = "idempotency_key_reused"


class InvalidTransition(StateConflict):
    """A status change that the record's transition map does not allow."""

    default_code = "invalid_transition"
