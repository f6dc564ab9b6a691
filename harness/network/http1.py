"""The proxy's HTTP/1.1 request heads: parsing, absolute form → origin form, CONNECT targets, error replies.

Bytes in, bytes out; no I/O. Responses are never parsed: the proxy tunnels them as bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["Abort", "BadRequest", "Request", "authority", "connect_target", "error_response", "parse_head", "rewrite"]

HOP_BY_HOP_DROP = {b"proxy-connection", b"proxy-authorization", b"keep-alive"}


class Abort(Exception):
    """The client has been answered (with an error) and the connection ends."""


class BadRequest(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason


@dataclass
class Request:
    method: bytes
    target: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def tokens(self, name: bytes) -> set[bytes]:
        found: set[bytes] = set()
        for key, value in self.headers:
            if key.lower() == name:
                found.update(t.strip().lower() for t in value.split(b","))
        return found


def parse_head(head: bytes) -> Request:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        raise BadRequest(400, "Bad Request", f"malformed request line {lines[0][:200]!r}")
    request = Request(parts[0], parts[1], parts[2])
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, "Bad Request", f"malformed header line {line[:200]!r}")
        request.headers.append((name, value.strip()))
    return request


def authority(request: Request) -> tuple[str, int, bytes]:
    """(host, port, origin-form target) of an absolute-form request."""
    try:
        url = urlsplit(request.target.decode("ascii"))
        host, port = url.hostname, url.port
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(400, "Bad Request", f"bad request target {request.target[:200]!r}") from exc
    if url.scheme == "https":
        detail = "https:// targets need CONNECT; this proxy does not originate TLS"
        raise BadRequest(501, "Not Implemented", detail)
    if url.scheme != "http" or not host:
        detail = "this is a proxy: send absolute-form (http://host/path) or CONNECT"
        raise BadRequest(400, "Bad Request", detail)
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    return host, port or 80, path.encode("ascii")


def connect_target(request: Request) -> tuple[str, int]:
    host, sep, port = request.target.decode("ascii", "replace").rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadRequest(400, "Bad Request", f"CONNECT needs host:port, got {request.target[:200]!r}")
    return host, int(port)


def rewrite(request: Request, origin_target: bytes, host: str, port: int) -> bytes:
    out = [b" ".join((request.method, origin_target, request.version))]
    has_host = False
    for key, value in request.headers:
        lower = key.lower()
        if lower in HOP_BY_HOP_DROP:
            continue
        has_host = has_host or lower == b"host"
        out.append(key + b": " + value)
    if not has_host:
        name = f"[{host}]" if ":" in host else host
        out.append(b"Host: " + (name if port == 80 else f"{name}:{port}").encode("ascii", "replace"))
    return b"\r\n".join(out) + b"\r\n\r\n"


def error_response(status: int, reason: str, detail: str) -> bytes:
    body = f"rehearse proxy: {detail}\n".encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
