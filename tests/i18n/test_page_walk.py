"""Every page of the console, walked in zh-hans: no English sentence of the catalogue is left.

The pages come from Django's resolver (the isolation matrix's walk, its world and fillers), so a
new page is walked the day it is added. Each GET is made as team A's admin (every page a team
member may open) with the browser asking for Chinese; the visible text of each HTML answer is
searched for the English msgids of the catalogue. The admin site and the JSON API are not the
console's pages (the API's human messages are checked in test_api_messages).

Beyond the catalogue's sentences, any run of English words that nobody marked is found too
(tests/i18n/english.py), once the world's own data (names, reasons, messages it typed) is cut out.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from platforms.models import PlatformConnection
from recovery.models import Team
from tests.i18n.english import cut_data, english_runs
from tests.security.isolation_fill import fill
from tests.security.urlwalk import endpoints
from tests.security.world import World, build_world

pytestmark = pytest.mark.django_db

CATALOGUE = Path(__file__).resolve().parents[2] / "locale/zh_Hans/LC_MESSAGES/django.po"
NOT_THE_CONSOLE = ("admin/", "api/v1/", "django-rq/", "_lab/")
NOT_HTML = (".pdf", ".json", ".csv", ".jsonl")  # not pages: not rendered for nothing
# Tags inside a line of text: a run of words goes on across them; any other tag ends a line.
INLINE = {"a", "abbr", "b", "bdi", "cite", "code", "em", "i", "kbd", "label", "mark", "q", "s",
          "small", "span", "strong", "sub", "sup", "time", "u", "var"}  # fmt: skip


class _VisibleText(HTMLParser):
    # pre: an audit row's data as programs read it (keys are codes, values are data).
    SKIPPED = {"script", "style", "template", "pre"}

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        if tag not in INLINE:
            self.chunks.append("\n")
        for name, value in attrs:  # what people read, or hear, in attributes: a line each
            if name in ("title", "aria-label", "placeholder", "alt") and value:
                self.chunks.append(f"\n{value}\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1
        if tag not in INLINE:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.chunks.append(f" {' '.join(data.split())} ")


def visible_text(html: str) -> str:
    """The text a person reads, a line for each block (and each attribute read out)."""
    parser = _VisibleText()
    parser.feed(html)
    lines = "".join(parser.chunks).splitlines()
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


def english_sentences() -> list[str]:
    """The catalogue's msgids as they show on a page: placeholders and tags cut out, the parts
    that are English runs kept (a lone word may be a name; a phrase is UI)."""
    pieces: set[str] = set()
    for entry in polib.pofile(str(CATALOGUE)):
        for msgid in filter(None, (entry.msgid, entry.msgid_plural)):
            # What is marked as code (a header's name, a path) reads the same in Chinese.
            text = re.sub(r"<code>.*?</code>", "\n", msgid, flags=re.S)
            text = re.sub(r"<[^>]+>", "\n", text)
            for part in re.split(r"%\(\w+\)[sdf]|\{\w*\}|\n|%s", text):
                part = " ".join(part.split()).strip(" .,:;()")
                # Code in a sentence (a cron line, a path, a header) reads the same in Chinese;
                # a piece is English by the same rule as a page's runs (SAME_IN_BOTH and all).
                if english_runs(part) and not re.search(r"[/=*`]", part):
                    pieces.add(part)
    return sorted(pieces, key=len, reverse=True)


def english_left(text: str, sentences: list[str]) -> list[str]:
    return [s for s in sentences if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text)]


def world_data(world: World) -> set[str]:
    """What the world typed, shown as typed in any language: its markers, and every name of a
    team, a person or a connection, plus the few English strings it stores as plain data."""
    data = set(world.markers.values())
    data |= set(Team.objects.values_list("name", flat=True))
    data |= set(get_user_model().objects.values_list("username", flat=True))
    data |= set(PlatformConnection.objects.values_list("name", flat=True))
    for recovery in (world.failed, world.running, world.other_recovery):
        data |= {recovery.vm_name, recovery.reason, str(recovery.error_advice)}
        data.add(str(recovery.step))  # a plain string in the world, a Text when the engine sets it
    return data | {"red audit row", world.batch.reason}


def english_on(html: str, sentences: list[str], data: set[str]) -> list[str]:
    """The unmarked English runs of a page, then the catalogue's sentences not among them."""
    text = visible_text(html)
    runs = english_runs(text, data)
    left = english_left(cut_data(text, data), sentences)
    return runs + [s for s in left if not any(s in r for r in runs)]


def walk(world: World) -> dict[str, list[str]]:
    """url -> the English on it."""
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(world.personas.admin.user)
    sentences = english_sentences()
    data = world_data(world)
    found: dict[str, list[str]] = {}
    for endpoint in endpoints():
        if endpoint.route.startswith(NOT_THE_CONSOLE):
            continue
        fillers = fill(endpoint, world)
        if isinstance(fillers, str):
            continue
        for url, _ in endpoint.urls(fillers):
            if url.endswith(NOT_HTML):
                continue
            response = client.get(url)
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            if response.status_code != 200:
                continue
            found[url] = english_on(response.content.decode(), sentences, data)
    return found


def test_the_zh_hans_pages_show_no_english(personas):
    found = walk(build_world(personas))
    left = {url: english for url, english in found.items() if english}
    print(f"\nzh-hans walk: {len(found)} pages, {len(left)} with English left")
    for url, english in sorted(left.items()):
        print(f"  {url}: {english}")
    assert found, "no page was walked"
    assert not left, f"{len(left)} of {len(found)} pages show English"
