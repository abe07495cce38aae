"""NFS sources as connections and shares spell them: "server:/export", and the export mounts
(a source -> the local directory where the console reads that export)."""

from __future__ import annotations


def nfs_source(server: str, export: str) -> str:
    """One spelling of an NFS source: "server:/export", the host in lower case, no trailing /."""
    return f"{server.strip().lower()}:{export.strip().rstrip('/') or '/'}"


def split_nfs_source(text: str) -> tuple[str, str] | None:
    """("server", "/export") of "server:/export" (an IPv6 server keeps its colons)."""
    server, separator, rest = text.strip().partition(":/")
    if not separator or not server.strip():
        return None
    return server.strip(), "/" + rest.strip()


def parse_export_mounts(text: str) -> tuple[dict[str, str], list[str]]:
    """("server:/export" -> local directory, problems) of an export-mounts text; syntax only."""
    found: dict[str, str] = {}
    problems = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        source, equals, directory = line.partition("=")
        parts = split_nfs_source(source)
        if not equals or parts is None or not directory.strip():
            problems.append(
                f"Line {number} ({line[:80]}) is not server:/export = /local/directory."
            )
            continue
        key = nfs_source(*parts)
        if key in found:
            problems.append(f"Line {number} maps {key} a second time.")
            continue
        found[key] = directory.strip()
    return found, problems
