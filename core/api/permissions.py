"""Role permissions: a user acts through their one staff membership."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.models import StaffMembership, StaffRole, Store
from core.selectors import membership_of


def request_membership(request: Any) -> StaffMembership:
    """The membership a role permission or page decorator put on the request."""
    membership: StaffMembership = request.membership
    return membership


def request_store(request: Any) -> Store:
    """The store of the clerk a role permission let through (a clerk always has one)."""
    store = request_membership(request).store
    assert store is not None
    return store


class _HasRole(BasePermission):
    role: str = ""
    message = "Your role may not do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        membership = membership_of(request.user)
        if membership is None or membership.role != self.role:
            return False
        request.membership = membership  # type: ignore[attr-defined]
        return True


class IsClerk(_HasRole):
    """A store clerk."""

    role = StaffRole.CLERK


class IsOfficer(_HasRole):
    """A customs officer."""

    role = StaffRole.OFFICER


class IsAgent(_HasRole):
    """A refund agency operator."""

    role = StaffRole.AGENT


class IsAnalyst(_HasRole):
    """A tax authority analyst: reads everything, writes nothing."""

    role = StaffRole.ANALYST


class IsStaff(BasePermission):
    """Any user with a staff membership (clerk, officer, agent or the authority's analyst)."""

    message = "Only store, customs, agency or authority staff may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        membership = membership_of(request.user)
        if membership is None:
            return False
        request.membership = membership  # type: ignore[attr-defined]
        return True
