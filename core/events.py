"""Domain events: a service announces a change; a later app reacts without being imported.

Dependencies run one way (stores <- customs <- agencies <- travelers), so a service of an
earlier app cannot call a later one. It ``publish``-es a named event with the rows it
changed instead, inside its own transaction; a later app ``subscribe``-s at start-up
(``AppConfig.ready``). A listener runs in the publisher's transaction, so it may write rows
that commit or roll back with the change; work for Celery it hands to
``transaction.on_commit`` with ids only (STYLE: enqueue after commit).

Events published:

- ``form_issued``: ``form``, ``email``, ``language`` (what the store captured)
- ``form_verified``: ``verification`` (customs stamped or refused)
- ``refund_paid``: ``refund`` (cash handed over or transfer confirmed)
- ``guarantee_moved``: ``guarantee``, ``previous`` (a Buy & Refund guarantee changed status)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Listener = Callable[..., None]
_listeners: dict[str, list[Listener]] = {}


def subscribe(event: str, listener: Listener) -> Listener:
    """Call ``listener(**payload)`` whenever ``event`` is published (once per listener)."""
    listeners = _listeners.setdefault(event, [])
    if listener not in listeners:
        listeners.append(listener)
    return listener


def publish(event: str, **payload: Any) -> None:
    """Tell every listener of ``event``, in the caller's transaction."""
    for listener in list(_listeners.get(event, ())):
        listener(**payload)
