"""Reports as PDF: WeasyPrint renders the same template partials as the page.

Why WeasyPrint (and not fpdf2): it lays out our own HTML and CSS, so the page, the PDF and any
later change to the report share one template; fpdf2 would need a second layout written in
Python. It needs Debian's pango libraries; without them `render_pdf` raises PdfUnavailable and
the view says so (the JSON and the page still work).

The template names no external resource, and the URL fetcher refuses every URL anyway: a value
in a report (a VM name, a command) can never make the server fetch anything.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.translation import gettext


class PdfUnavailable(RuntimeError):
    pass


def _refuse(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"reports fetch nothing ({url})")


def _page_of() -> str:
    """The footer's "Page 2 of 5" as a CSS content value, in the reader's language."""
    words = gettext("Page %(page)s of %(pages)s").replace('"', "")
    quoted = '"' + words.replace("%(page)s", '" counter(page) "').replace(
        "%(pages)s", '" counter(pages) "'
    )
    return quoted + '"'


def render_pdf(context: dict[str, Any]) -> bytes:
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as error:  # OSError: pango or its fonts are missing
        raise PdfUnavailable(str(error)) from None
    html = render_to_string("verify/pdf.html", context)
    # A stylesheet of its own rather than a <style> element: no template needs inline styles.
    styles = CSS(
        string=render_to_string("verify/pdf.css", {"page_of": _page_of()}), url_fetcher=_refuse
    )
    return HTML(string=html, url_fetcher=_refuse).write_pdf(stylesheets=[styles])
