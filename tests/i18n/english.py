"""English left on a page meant to be Chinese: runs of two or more English words.

Shared by the zh-hans page walk (tests/i18n/test_page_walk.py, Django's test client) and the
browser's Chinese walk (tests/browser/test_chinese_walk.py, Chromium's visible text). Unlike a
search for the catalogue's msgids, this finds English that nobody marked for translation.

A run is a line's sequence of whitespace-separated words of Latin letters (`[A-Za-z]+`, an
apostrophe allowed inside, punctuation around it ignored); it is English when at least two of
its words have two letters or more, one of them not a term of SAME_IN_BOTH. The test's own
data (VM names, user names, paths, ids, platform messages) is cut out before the search: it is
shown as typed, in any language. A token with digits, hyphens, dots or slashes inside (db-01,
qr-test, ide0.qcow2, /backup) is never a word, so most names and codes break a run themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Terms that a Chinese page shows as they are (docs/zh/glossary.md keeps them in Latin letters).
# Each is a whole word that does not make a run English by itself ("API 令牌", "NFS 服务器"), yet
# stays part of one: "Export CSV" is still English, as "导出 CSV" is not.
SAME_IN_BOTH = {
    "API",  # the JSON API's name
    "RTO",  # recovery time objective: the industry's abbreviation
    "NFS",  # the protocol the backups are read over
    "SCP",  # Sangfor Cloud Platform, a product name
    "HCI",  # Sangfor HCI, a product name
    "ID",  # identifiers are 'ID' in Chinese UIs too
    "JSON",  # file format
    "PDF",  # file format
    "CSV",  # file format
    "Webhook",  # Sangfor's own Chinese UI keeps the word
    "URL",  # the catalogue's own 基础 URL, Webhook URL
    "POST",  # an HTTP method, a code
    "qcow2",  # disk image format (has a digit: listed for the record)
    "raw",  # disk image format, as qemu-img names it
}

# Phrases kept whole: Sangfor's Chinese console names the AK/SK pair in English, and so does
# the catalogue (docs/zh/glossary.md); cut out like data, so "Access Key" alone is not a run.
# JSON Lines is a file format's name (导出 JSON Lines), like CSV.
SAME_IN_BOTH_PHRASES = ("Access Key", "Secret Key", "JSON Lines")

_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)*")  # it's, with either apostrophe
# Punctuation stripped from a token's ends (typographic quotes written as escapes for ruff).
_AROUND = "()[]{}<>,.;:!?\"'“”\u2018\u2019…«»*"
_BREAK = "\n"


def cut_data(text: str, data: Iterable[str]) -> str:
    """The text with each piece of data (as a whole word) replaced by a line break."""
    for item in sorted({d for d in data if d and d.strip()}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(item)}(?![\w-])", _BREAK, text)
    return text


def english_runs(text: str, data: Iterable[str] = ()) -> list[str]:
    """The English runs of `text` (in order, each once), `data` and SAME_IN_BOTH excepted."""
    found: list[str] = []
    for line in cut_data(text, [*data, *SAME_IN_BOTH_PHRASES]).splitlines():
        run: list[str] = []  # tokens as written, punctuation and all
        for token in [*line.split(), ""]:  # "" ends the last run
            if _WORD.fullmatch(token.strip(_AROUND) or "-"):
                run.append(token)
                continue
            words = [t.strip(_AROUND) for t in run if len(t.strip(_AROUND)) >= 2]
            if len(words) >= 2 and any(w not in SAME_IN_BOTH for w in words):
                phrase = " ".join(run).strip(_AROUND)
                if phrase not in found:
                    found.append(phrase)
            run = []
    return found
