"""Every write has one home, a service: no route of the URL conf saves through DRF's generic
`serializer.save()` (PracticeScopedViewSet's perform_* refuse to), so each viewset that offers
create, update or destroy through DRF's mixins names the service its perform_* calls."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import mixins

from practice.tenancy import PracticeScopedViewSet

# DRF mixin action -> the hook that action calls to write
HOOKS = {
    "create": (mixins.CreateModelMixin.create, "perform_create"),
    "update": (mixins.UpdateModelMixin.update, "perform_update"),
    "partial_update": (mixins.UpdateModelMixin.partial_update, "perform_update"),
    "destroy": (mixins.DestroyModelMixin.destroy, "perform_destroy"),
}


def _viewset_actions(patterns=None) -> set[tuple[type, str]]:
    found: set[tuple[type, str]] = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            found |= _viewset_actions(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            cls = getattr(pattern.callback, "cls", None)
            actions = getattr(pattern.callback, "actions", None) or {}
            if cls is not None and issubclass(cls, PracticeScopedViewSet):
                found |= {
                    (cls, action)
                    for method, action in actions.items()
                    if action in HOOKS and method in cls.http_method_names  # reachable
                }
    return found


WRITES = sorted(_viewset_actions(), key=lambda pair: (pair[0].__name__, pair[1]))


def test_the_url_conf_has_writes_to_check():
    assert len(WRITES) >= 10


@pytest.mark.parametrize(("viewset", "action"), WRITES, ids=lambda v: getattr(v, "__name__", v))
def test_each_generic_write_calls_a_service(viewset, action):
    generic, hook = HOOKS[action]
    if getattr(viewset, action) is not generic:
        return  # the viewset writes in its own action method (which calls a service)
    assert getattr(viewset, hook) is not getattr(PracticeScopedViewSet, hook), (
        f"{viewset.__name__}.{action} would save through the serializer: override {hook}"
    )
