"""Every page of the console, walked in zh-hans: no English sentence of the catalogue is left.

The pages come from Django's resolver (the isolation matrix's walk, its world and fillers), so a
new page is walked the day it is added. Each GET is made as team A's admin (every page a team
member may open) with the browser asking for Chinese; the visible text of each HTML answer is
searched for the English msgids of the catalogue. The admin site and the JSON API are not the
console's pages (the API's human messages are checked in test_api_messages).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.test import Client

from tests.security.isolation_fill import fill
from tests.security.urlwalk import endpoints
from tests.security.world import build_world

pytestmark = pytest.mark.django_db

CATALOGUE = Path(__file__).resolve().parents[2] / "locale/zh_Hans/LC_MESSAGES/django.po"
NOT_THE_CONSOLE = ("admin/", "api/v1/", "django-rq/", "_lab/")
NOT_HTML = (".pdf", ".json", ".csv", ".jsonl")  # not pages: not rendered for nothing
# Words that are the same in both languages' UI: product names, units, codes.
SAME_IN_BOTH = {"API", "RTO", "NFS", "SCP", "HCI", "ID", "JSON", "PDF", "CSV", "Webhook"}


class _VisibleText(HTMLParser):
    SKIPPED = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        for name, value in attrs:  # what people read, or hear, in attributes
            if name in ("title", "aria-label", "placeholder", "alt") and value:
                self.chunks.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.chunks.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(chunk.split()) for chunk in parser.chunks)


def english_sentences() -> list[str]:
    """The catalogue's msgids as they show on a page: placeholders and tags cut out, the parts
    of at least two words kept (a lone word may be a name; a phrase is UI)."""
    pieces: set[str] = set()
    for entry in polib.pofile(str(CATALOGUE)):
        for msgid in filter(None, (entry.msgid, entry.msgid_plural)):
            # What is marked as code (a header's name, a path) reads the same in Chinese.
            text = re.sub(r"<code>.*?</code>", "\n", msgid, flags=re.S)
            text = re.sub(r"<[^>]+>", "\n", text)
            for part in re.split(r"%\(\w+\)[sdf]|\{\w*\}|\n|%s", text):
                part = " ".join(part.split()).strip(" .,:;()")
                words = re.findall(r"[A-Za-z]{2,}", part)
                # Code in a sentence (a cron line, a path, a header) reads the same in Chinese.
                if len(words) >= 2 and not re.search(r"[/=*`]", part) and part not in SAME_IN_BOTH:
                    pieces.add(part)
    return sorted(pieces, key=len, reverse=True)


def english_left(html: str, sentences: list[str]) -> list[str]:
    text = visible_text(html)
    return [s for s in sentences if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text)]


def walk(world) -> dict[str, list[str]]:
    """url -> the English sentences on it."""
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(world.personas.admin.user)
    sentences = english_sentences()
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
            found[url] = english_left(response.content.decode(), sentences)
    return found


@pytest.mark.xfail(
    strict=True,
    reason="issue 22 is under way: the recoveries list, batch and audit pages are not marked yet; "
    "when every page passes, this mark fails the run and must go",
)
def test_the_zh_hans_pages_show_no_english_sentence_of_the_catalogue(personas):
    found = walk(build_world(personas))
    left = {url: sentences for url, sentences in found.items() if sentences}
    print(f"\nzh-hans walk: {len(found)} pages, {len(left)} with English left")
    for url, sentences in sorted(left.items()):
        print(f"  {url}: {sentences[:6]}")
    assert found, "no page was walked"
    assert not left, f"{len(left)} of {len(found)} pages show English"
