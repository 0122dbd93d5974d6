"""The default permission: a practice member whose role the view's `access` table admits.

Kept apart from `tenancy` because DRF imports it while defining its own views.
"""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from practice.models import API_KEY_ROLE

WRITE = "write"


class IsPracticeMember(permissions.BasePermission):
    """The caller belongs to a practice, and the view's `access` lets their role use this method.

    `access` maps role -> READ or WRITE; a role missing from it gets 403 for the whole endpoint.
    `action_access` overrides it per custom action (e.g. only clinicians may clear a complaint).
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.user is None or getattr(request, "practice", None) is None:
            return False
        action = getattr(view, "action", None)
        access = getattr(view, "action_access", {}).get(action) or getattr(view, "access", None)
        if access is None:
            # Views with no table of their own (me/, practice/) decide themselves; an API key
            # reaches them only where the view says so (its scope is scheduling: API.md).
            return request.role != API_KEY_ROLE or getattr(view, "api_key_allowed", False)
        mode = access.get(request.role)
        if mode is None:
            return False
        return request.method in permissions.SAFE_METHODS or mode == WRITE

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        check = getattr(view, "may_change", None)
        return check(request, obj) if check else True
