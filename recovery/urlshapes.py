"""The URL shape of a kind of object the console lists and edits, in one place.

`<prefix>` lists, `<prefix>new/` creates, `<prefix><pk>/` shows, `<prefix><pk>/edit/` and
`<prefix><pk>/delete/` change; the names are `<name>-list`, `-create`, `-detail`, `-edit`,
`-delete` (templates and the isolation tests' URL matrix use them). An action on one object
(test a connection, revoke an invitation) is `<prefix><pk>/<action>/`, named `<name>-<action>`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.urls import URLPattern, path

SHAPES = {
    "list": "",
    "create": "new/",
    "detail": "<int:pk>/",
    "edit": "<int:pk>/edit/",
    "delete": "<int:pk>/delete/",
}


def object_urls(prefix: str, name: str, **views: Callable) -> list[URLPattern]:
    """The pages of one kind of object: those of SHAPES it has a view for."""
    unknown = set(views) - set(SHAPES)
    if unknown:
        raise ValueError(f"No URL shape for {sorted(unknown)}: one of {list(SHAPES)}.")
    return [
        path(f"{prefix}{SHAPES[page]}", view, name=f"{name}-{page}") for page, view in views.items()
    ]


def object_actions(prefix: str, name: str, **views: Callable) -> list[URLPattern]:
    """The actions on one object of a kind: `<prefix><pk>/<action>/`, named `<name>-<action>`
    (an underscore in the keyword reads as a hyphen in both)."""
    return [
        path(f"{prefix}<int:pk>/{action.replace('_', '-')}/", view, name=f"{name}-{action}")
        for action, view in ((key.replace("_", "-"), view) for key, view in views.items())
    ]
