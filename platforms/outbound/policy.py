"""The outbound address policy: which addresses a typed URL may reach (OUTBOUND_ALLOW)."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
ALLOW_SETTING = "OUTBOUND_ALLOW"
USERINFO_PROBLEM = (
    "The URL carries a user name or password (user:password@host). Remove it: the console "
    "never sends credentials in a URL; use the secret fields instead."
)


# --- address policy ------------------------------------------------------------------------


def allow_entries() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(getattr(settings, ALLOW_SETTING, ()) or ())


class Allowed(NamedTuple):
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    host: str  # a host name ("" for a network entry)
    port: int | None  # None: every port


def _split_port(text: str) -> tuple[str, int | None]:
    """ "[::1]:9443", "127.0.0.1:9443", "lab.local:9443" -> host and port; bare IPv6 has none."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit():
            return host, int(port)
    return text, None


@lru_cache(maxsize=8)
def parse_allow(entries: tuple[str, ...]) -> tuple[Allowed, ...]:
    """OUTBOUND_ALLOW's entries: a CIDR or address, or a host name, each with an optional port."""
    allowed = []
    for entry in entries:
        text, port = _split_port(entry.strip())
        try:
            allowed.append(Allowed(ipaddress.ip_network(text, strict=False), "", port))
        except ValueError:
            allowed.append(Allowed(None, text.lower().rstrip("."), port))
    return tuple(allowed)


def _allowed(address: IPAddress | None, host: str, port: int | None) -> bool:
    host = host.lower().rstrip(".")
    for entry in parse_allow(allow_entries()):
        if entry.port is not None and entry.port != port:
            continue
        if entry.network is not None and address is not None and address in entry.network:
            return True
        if entry.host and entry.host == host:
            return True
    return False


def _ip(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def classify(address: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def address_problem(ip_text: str, host: str = "", port: int | None = None) -> str | None:
    """Why the policy refuses connecting to this address (for `host`, `port`), or None."""
    address = _ip(ip_text)
    if _allowed(address, host, port):
        return None
    kind = classify(address)
    if kind is None:
        return None
    shown = str(address) if not host or host.strip("[]") == str(address) else f"{host} ({address})"
    return f"{shown} is {kind}; an admin allows it with OUTBOUND_ALLOW."


def has_userinfo(url: str) -> bool:
    return "@" in urlsplit(url.strip()).netloc


def safe_host(url: str) -> str:
    """host[:port] of a URL for messages and logs: never its user info."""
    return urlsplit(url.strip()).netloc.rpartition("@")[2]


def without_userinfo(url: str) -> str:
    parts = urlsplit(url.strip())
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why a URL may not be used (forms): user info, or an address the policy refuses.

    A name that does not resolve now is not refused here (the platform may be set up before
    its DNS); the check when connecting still applies.
    """
    if has_userinfo(url):
        return USERINFO_PROBLEM
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if not host:
        return "The URL has no host."
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The URL's port is not a number from 1 to 65535."
    if _allowed(None, host, port):
        return None
    try:
        return address_problem(host, host, port)
    except ValueError:
        pass  # a name, not an address literal
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        return None
    for info in infos:
        problem = address_problem(str(info[4][0]), host, port)
        if problem:
            return problem
    return None
