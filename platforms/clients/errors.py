from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from django.utils.translation import gettext_noop

from platforms import outbound

# [I] Sangfor's spec names no error code for "the datastore is still in use": its error
# envelope carries only the HTTP status (`code` / `errcode`), a localised `message` and a free
# `data` object. The lab answers 400 with data {"reason": "storage_in_use", "server_ids": [...]}
# (platforms/lab/shapes.py); this is the one place that recognises it. Never the message text:
# a platform set to Chinese words it differently.
STORAGE_IN_USE_REASON = "storage_in_use"


class PlatformError(Exception):
    """The one error a platform client raises.

    `permanent` tells the caller whether trying again can help: 4xx answers other than
    401/408/429 are permanent; 5xx, 429, timeouts and connection errors are transient.
    `kind` says where it went wrong: dns, connect, tls, timeout, http, protocol, redirect,
    refused (the outbound address policy).
    `platform_message` is for people only (its language is the platform's); code decides on
    `status`, `kind` and `data` (the error envelope's data object).

    `message` is the console's English sentence: `msgid` (a catalogue entry, marked with
    gettext_noop where it is written) filled with `params`. Parameters stay as given (the
    platform's own words are never translated); recovery makes a Text of msgid and params to
    show or store it in each reader's language (platforms cannot: it never imports recovery).
    """

    def __init__(
        self,
        msgid: str,
        *,
        params: Mapping[str, Any] | None = None,
        permanent: bool,
        kind: str = "http",
        status: int | None = None,
        platform_message: str = "",
        method: str = "",
        path: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        self.msgid = msgid
        self.params = dict(params or {})
        self.message = _fill(msgid, self.params)
        super().__init__(self.message)
        self.permanent = permanent
        self.kind = kind
        self.status = status
        self.platform_message = platform_message
        self.method = method
        self.path = path
        self.data = data or {}

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method else ""
        return f"{self.message}{where}"

    @property
    def datastore_in_use(self) -> bool:
        """The platform refused to unmount a datastore some VM disk is still backed on.

        By its reason code, or by its structure (a 400 naming the servers that hold it).
        """
        if self.status != 400 or self.kind != "http":
            return False
        return self.data.get("reason") == STORAGE_IN_USE_REASON or bool(self.in_use_by)

    @property
    def in_use_by(self) -> list[str]:
        """The ids of the servers the platform says still use the datastore (may be empty)."""
        ids = self.data.get("server_ids")
        return [str(i) for i in ids] if isinstance(ids, list) else []


def _fill(msgid: str, params: Mapping[str, Any]) -> str:
    if not params:
        return msgid
    return msgid % {key: str(value) for key, value in params.items()}


def is_permanent_status(status: int) -> bool:
    return 400 <= status < 500 and status not in (401, 408, 429)


def status_explanation(status: int, *, said: bool) -> str:
    """What an error status means (msgid; the platform's own message follows when it `said`
    one). A full sentence each way, so that a translator sees it whole."""
    if status == 401:
        if said:
            return gettext_noop("The platform refused the credentials (401): %(message)s")
        return gettext_noop("The platform refused the credentials (401)")
    if status == 403:
        if said:
            return gettext_noop("The platform account lacks permission for this (403): %(message)s")
        return gettext_noop("The platform account lacks permission for this (403)")
    if status == 404:
        if said:
            return gettext_noop("Not found on the platform (404): %(message)s")
        return gettext_noop("Not found on the platform (404)")
    if status == 429:
        if said:
            return gettext_noop(
                "The platform is rate limiting or refused a repeated request (429): %(message)s"
            )
        return gettext_noop("The platform is rate limiting or refused a repeated request (429)")
    if said:
        return gettext_noop("The platform answered HTTP %(status)s: %(message)s")
    return gettext_noop("The platform answered HTTP %(status)s")


def transport_error(
    exc: Exception, method: str, path: str, deadline_seconds: float
) -> PlatformError:
    """What a failed exchange means, in words an operator can act on."""
    msgid, params, permanent, kind = _transport_meaning(exc, deadline_seconds)
    return PlatformError(
        msgid, params=params, permanent=permanent, kind=kind, method=method, path=path
    )


def _transport_meaning(
    exc: Exception, deadline_seconds: float
) -> tuple[str, dict[str, Any], bool, str]:
    """(what to tell the operator and its parameters, whether retrying cannot help, the
    error's kind)."""
    if isinstance(exc, outbound.OutboundRefused):
        # The policy's own sentence is a parameter: it is worded in platforms/outbound.
        return (
            gettext_noop("%(problem)s The console did not connect."), {"problem": str(exc)},
            True, "refused",
        )  # fmt: skip
    if isinstance(exc, outbound.DeadlineExceeded):
        return (
            gettext_noop(
                "The platform did not finish answering within %(seconds)s s (the call's "
                "overall deadline); the connection was closed."
            ),
            {"seconds": f"{deadline_seconds:g}"}, False, "timeout",
        )  # fmt: skip
    if isinstance(exc, outbound.ResponseTooLarge):
        return (
            gettext_noop("The platform's answer is larger than %(limit)s bytes; it was not read."),
            {"limit": exc.limit}, True, "protocol",
        )  # fmt: skip
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            gettext_noop(
                "TLS handshake failed: the platform's certificate is not trusted. Add its CA "
                "bundle to the connection, or turn off verification for a lab."
            ),
            {}, True, "tls",
        )  # fmt: skip
    if isinstance(exc, requests.exceptions.Timeout):
        return gettext_noop("The platform did not answer in time."), {}, False, "timeout"
    if (
        "Name or service not known" in text
        or "NameResolutionError" in text
        or "getaddrinfo" in text
    ):
        return (
            gettext_noop("The platform's host name does not resolve (DNS). Check the base URL."),
            {}, False, "dns",
        )  # fmt: skip
    if isinstance(exc, requests.exceptions.ConnectionError):
        return (
            gettext_noop(
                "Cannot connect to the platform: nothing answers at that address and port."
            ),
            {}, False, "connect",
        )  # fmt: skip
    return (
        gettext_noop("The request failed: %(error)s."), {"error": type(exc).__name__},
        False, "connect",
    )  # fmt: skip
