"""Every URL pattern of the site, found by walking Django's resolver, and URLs built from them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

SKIPPED_PREFIXES = ("static/", "media/")
_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)\??")


@dataclass(frozen=True)
class Endpoint:
    route: str  # the full pattern, as Django prints it
    name: str | None
    parts: tuple[Any, ...]  # the RoutePattern/RegexPattern of each level
    callback: Callable[..., Any]

    @property
    def key(self) -> str:
        return self.name or self.route

    @property
    def params(self) -> tuple[str, ...]:
        names: list[str] = []
        for part in self.parts:
            if isinstance(part, RoutePattern):
                names += [m["name"] for m in _ROUTE_PARAM.finditer(str(part))]
            else:
                names += list(part.regex.groupindex)
        return tuple(names)

    def url(self, values: dict[str, str]) -> str | None:
        """The path for these parameter values; it must resolve back to this very view.

        None when an earlier pattern with the very same route shadows this one: nobody can
        reach it, so there is nothing to check.
        """
        pieces = []
        for part in self.parts:
            text = str(part)
            if isinstance(part, RoutePattern):
                pieces.append(_ROUTE_PARAM.sub(lambda m: str(values[m["name"]]), text))
            elif isinstance(part, RegexPattern):
                text = _REGEX_GROUP.sub(lambda m: str(values[m["name"]]), text)
                text = text.removeprefix("^").removesuffix("$").replace("/?", "/")
                pieces.append(text.replace("\\.", "."))
            else:  # pragma: no cover - a new pattern class
                raise AssertionError(f"{self.route}: unknown pattern type {type(part)}")
        path = "/" + "".join(pieces)
        match = resolve(path)
        if match.func is not self.callback and match.route == self.route:
            return None
        if match.func is not self.callback:
            raise AssertionError(
                f"{self.route}: the URL built for it, {path}, resolves to another view "
                f"({match.view_name}); teach tests/security/urlwalk.py this pattern's syntax."
            )
        return path

    def urls(self, fillers: dict[str, list[Any]]) -> Iterator[tuple[str, dict[str, str]]]:
        """Every combination of the fillers' values: (path, the values in it)."""
        names = self.params
        for combo in product(*(fillers[name] for name in names)):
            values = dict(zip(names, (str(v) for v in combo), strict=True))
            url = self.url(values)
            if url is not None:
                yield url, values


def endpoints() -> list[Endpoint]:
    found: list[Endpoint] = []

    def walk(patterns: Iterable[Any], parts: tuple[Any, ...]) -> None:
        for entry in patterns:
            here = (*parts, entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, here)
            elif isinstance(entry, URLPattern):
                route = "".join(str(p) for p in here)
                if not route.startswith(SKIPPED_PREFIXES):
                    found.append(Endpoint(route, entry.name, here, entry.callback))

    walk(get_resolver().url_patterns, ())
    return found
