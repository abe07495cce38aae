from __future__ import annotations

import pytest
from django.urls import reverse

from recovery.urlshapes import object_urls


def _view(request):  # pragma: no cover - never called: only routed
    raise AssertionError


def test_each_page_gets_its_shape_and_its_name():
    patterns = object_urls("things/", "thing", list=_view, edit=_view, delete=_view)
    assert [(str(p.pattern), p.name) for p in patterns] == [
        ("things/", "thing-list"),
        ("things/<int:pk>/edit/", "thing-edit"),
        ("things/<int:pk>/delete/", "thing-delete"),
    ]


def test_a_page_with_no_shape_is_refused_by_name():
    with pytest.raises(ValueError, match="archive"):
        object_urls("things/", "thing", archive=_view)


def test_the_consoles_objects_keep_their_addresses():
    assert reverse("connection-edit", args=[3]) == "/connections/3/edit/"
    assert reverse("drill-list") == "/drills/"
    assert reverse("drill-delete", args=[4]) == "/drills/4/delete/"
    assert reverse("notification-channel-create") == "/notifications/channels/new/"
