"""One transition map per stateful model; every status change goes through it."""

from __future__ import annotations

from collections.abc import Mapping

from core.exceptions import InvalidTransition


class TransitionMap:
    """Allowed status changes of one model."""

    def __init__(self, name: str, transitions: Mapping[str, frozenset[str] | set[str]]) -> None:
        self.name = name
        self.transitions = {k: frozenset(v) for k, v in transitions.items()}

    def can(self, current: str, target: str) -> bool:
        return target in self.transitions.get(current, frozenset())

    def check(self, current: str, target: str, *, code: str | None = None) -> None:
        """Raise a 409 when ``current -> target`` is not allowed."""
        if not self.can(current, target):
            raise InvalidTransition(
                f"A {self.name} in status '{current}' cannot become '{target}'.",
                code=code,
                extra={"status": current, "target": target},
            )
