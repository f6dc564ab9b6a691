"""A userland shaping HTTP proxy: each client connection is one simulated device's link.

Run as its own process (the load process is gevent-patched; this one is plain asyncio, stdlib only)::

    python -m harness.network.proxy --profile-json '{"name": "x", "rtt_ms": 100, "down_kbit": 2000}' --port 0

It prints ``READY <host> <port>`` once listening and stops cleanly on SIGTERM/SIGINT, printing
``STATS {json}`` to stderr. ``start_proxy`` does all that from Python.

What it forwards:

- Plain HTTP in absolute form (``GET http://host:port/path HTTP/1.1``), rewritten to origin form with Host
  kept; keep-alive and pipelining work. Requests are parsed (to rewrite each one), responses are tunnelled as
  bytes. A later request on the same client connection for another host half-closes the old upstream,
  lets its responses finish, then connects the new one (no extra RTT: the device link stays open).
- ``CONNECT host:port`` (HTTPS): a byte tunnel, so TLS runs end to end and certificates verify as usual.

Each client connection is shaped both ways by ``harness.network.link`` (rate with TCP/IP header bytes,
delay, jitter, loss). New connection: the TCP handshake costs one RTT. The client's connect to this proxy
returns at once, so the first request bytes wait one RTT before they start on the link; for CONNECT, the
``200`` reply is held one RTT instead (it stands in for the handshake), so TLS and the request then cost their
own RTTs as on a direct link. The new-connection cost is thus one RTT, as in ``network_floor_ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import sys
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.network.http1 import (
    Abort,
    BadRequest,
    Request,
    authority,
    connect_target,
    error_response,
    parse_head,
    rewrite,
)
from harness.network.link import DelayedWriter, Shaper, new_event_loop
from harness.network.profiles import NetworkProfile, ProfileError, get_profile
from harness.network.relay import relay_preamble
from harness.network.spawn import ChildHandle, serve_until_stopped, spawn_ready

__all__ = ["ProxyHandle", "main", "start_proxy"]

ProxyHandle = ChildHandle

_READ_SIZE = 65536
_MAX_HEAD_BYTES = 65536
_CONNECT_TIMEOUT_S = 10.0
_SWITCH_GRACE_S = 10.0  # another host on the same connection: how long the old one may take to close
_CLIENT_EOF_GRACE_S = 120.0  # the client half-closed: how long its last responses may take


@dataclass
class _Stats:
    connections: int = 0
    active: int = 0
    requests: int = 0
    tunnels: int = 0
    upstream_connects: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# -------------------------------------------------------------------------------------------- connections


class _Upstream:
    def __init__(self, key: tuple[str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.key = key
        self.reader = reader
        self.writer = writer
        self.switching = False
        self.down_task: asyncio.Task[None] | None = None


class _ClientConnection:
    """One client connection = one device link, shaped both ways."""

    def __init__(
        self,
        server: _ProxyServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        index: int,
    ) -> None:
        profile = server.profile
        self._stats = server.stats
        self._reader = reader
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._accepted = self._loop.time()
        self._rtt_s = profile.rtt_ms / 1000
        rng = random.Random(f"{server.seed}:{index}")
        common: dict[str, Any] = {
            "rtt_ms": profile.rtt_ms,
            "jitter_ms": profile.jitter_ms,
            "loss_pct": profile.loss_pct,
            "rng": rng,
        }
        # The TCP handshake: request bytes may not start on the link until one RTT after the connect.
        self._up_shaper = Shaper(rate_kbit=profile.up_kbit, start_at=self._accepted + self._rtt_s, **common)
        self._down = DelayedWriter(Shaper(rate_kbit=profile.down_kbit, start_at=self._accepted, **common), writer)
        self._up_pipe: DelayedWriter | None = None
        self._upstream: _Upstream | None = None
        self._via = server.via

    async def run(self) -> None:
        try:
            await self._serve()
        except BadRequest as exc:
            await self._fail(exc.status, exc.reason, str(exc))
        except Abort:
            pass
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self._stats.errors += 1
        finally:
            await self._close()

    async def _serve(self) -> None:
        while True:
            try:
                head = await self._reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    raise BadRequest(400, "Bad Request", "connection closed inside a request head") from None
                await self._client_eof()
                return
            except asyncio.LimitOverrunError:
                too_large = "Request Header Fields Too Large"
                raise BadRequest(431, too_large, "request head over 64 KiB") from None
            request = parse_head(head)
            if request.method == b"CONNECT":
                await self._connect_tunnel(request)
                return
            host, port, origin_target = authority(request)
            await self._use_upstream((host, port))
            self._stats.requests += 1
            await self._send_up(rewrite(request, origin_target, host, port))
            if b"upgrade" in request.tokens(b"connection"):
                await self._tunnel_up()  # e.g. WebSocket: after the head, bytes are no longer HTTP requests
                return
            await self._forward_body(request)

    async def _send_up(self, data: bytes) -> None:
        assert self._up_pipe is not None
        self._stats.bytes_up += len(data)
        await self._up_pipe.push(data)

    async def _forward_body(self, request: Request) -> None:
        if b"chunked" in request.tokens(b"transfer-encoding"):
            await self._forward_chunked()
            return
        length_header = request.header(b"content-length")
        if length_header is None:
            return
        try:
            remaining = int(length_header)
            if remaining < 0:
                raise ValueError(length_header)
        except ValueError:
            raise BadRequest(400, "Bad Request", f"bad Content-Length {length_header[:50]!r}") from None
        while remaining > 0:
            data = await self._reader.read(min(remaining, _READ_SIZE))
            if not data:
                raise asyncio.IncompleteReadError(b"", remaining)
            remaining -= len(data)
            await self._send_up(data)

    async def _forward_chunked(self) -> None:
        for _ in range(1 << 30):  # bounded by the body: each pass consumes one chunk
            line = await self._reader.readuntil(b"\r\n")
            await self._send_up(line)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "Bad Request", f"bad chunk size line {line[:50]!r}") from None
            if size == 0:
                for _ in range(1 << 16):  # trailers, then the empty line
                    trailer = await self._reader.readuntil(b"\r\n")
                    await self._send_up(trailer)
                    if trailer == b"\r\n":
                        return
                raise BadRequest(400, "Bad Request", "too many trailer lines")
            remaining = size + 2  # the data and its CRLF
            while remaining > 0:
                data = await self._reader.read(min(remaining, _READ_SIZE))
                if not data:
                    raise asyncio.IncompleteReadError(b"", remaining)
                remaining -= len(data)
                await self._send_up(data)

    async def _connect_tunnel(self, request: Request) -> None:
        host, port = connect_target(request)
        await self._drop_upstream()
        if not await self._open_upstream((host, port)):
            return
        self._stats.tunnels += 1
        # The 200 stands in for the TCP handshake: it arrives one RTT after the connect.
        not_before = self._accepted + self._rtt_s
        established = b"HTTP/1.1 200 Connection established\r\n\r\n"
        await self._down.push(established, shaped=False, not_before=not_before)
        await self._tunnel_up()

    async def _tunnel_up(self) -> None:
        for _ in range(1 << 40):  # bounded by the stream: each pass consumes bytes or ends
            data = await self._reader.read(_READ_SIZE)
            if not data:
                await self._client_eof()
                return
            await self._send_up(data)

    async def _use_upstream(self, key: tuple[str, int]) -> None:
        if self._upstream is not None and self._upstream.key == key:
            return
        await self._drop_upstream()
        if not await self._open_upstream(key):
            raise Abort(f"cannot reach {key}")

    async def _open_upstream(self, key: tuple[str, int]) -> bool:
        host, port = key
        via = self._via
        try:
            where = (host, port) if via is None else via
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*where), _CONNECT_TIMEOUT_S)
            if via is not None:
                writer.write(relay_preamble(host, port))
        except (OSError, TimeoutError) as exc:
            detail = f"cannot connect to {host}:{port}: {exc.__class__.__name__}: {exc}"
            await self._fail(502, "Bad Gateway", detail)
            return False
        self._stats.upstream_connects += 1
        upstream = _Upstream(key, reader, writer)
        self._upstream = upstream
        self._up_pipe = DelayedWriter(self._up_shaper, writer)
        upstream.down_task = self._loop.create_task(self._pump_down(upstream))
        return True

    async def _drop_upstream(self) -> None:
        """Finish with the current upstream: send what is queued, half-close, let its responses end."""
        upstream, pipe = self._upstream, self._up_pipe
        if upstream is None or pipe is None:
            return
        upstream.switching = True
        await pipe.drained()
        pipe.cancel()
        with contextlib.suppress(OSError):
            if upstream.writer.can_write_eof():
                upstream.writer.write_eof()
        await self._finish_down(upstream, _SWITCH_GRACE_S)
        upstream.writer.close()
        self._upstream = None
        self._up_pipe = None

    async def _finish_down(self, upstream: _Upstream, grace_s: float) -> None:
        """Wait for the upstream to close after our half-close; a server that never does is cut off."""
        if upstream.down_task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(upstream.down_task), grace_s)
        except TimeoutError:
            upstream.down_task.cancel()
            self._stats.errors += 1

    async def _pump_down(self, upstream: _Upstream) -> None:
        try:
            for _ in range(1 << 40):  # bounded by the stream
                data = await upstream.reader.read(_READ_SIZE)
                if not data:
                    break
                self._stats.bytes_down += len(data)
                await self._down.push(data)
            if upstream.switching:
                return  # the next upstream's responses queue behind these in the same pipe
            await self._down.drained()
        except (ConnectionError, OSError):
            self._stats.errors += 1
        # The server closed (or failed): so does the client's connection, once the bytes got there.
        self._writer.close()

    async def _client_eof(self) -> None:
        """The client finished sending: pass the half-close on and wait for the responses to drain."""
        upstream, pipe = self._upstream, self._up_pipe
        if upstream is None or pipe is None:
            return
        await pipe.drained()
        with contextlib.suppress(OSError):
            if upstream.writer.can_write_eof():
                upstream.writer.write_eof()
        await self._finish_down(upstream, _CLIENT_EOF_GRACE_S)

    async def _fail(self, status: int, reason: str, detail: str) -> None:
        self._stats.errors += 1
        with contextlib.suppress(ConnectionError, OSError):
            await self._drop_upstream()
            await self._down.push(error_response(status, reason, detail))
            await self._down.drained()

    async def _close(self) -> None:
        upstream = self._upstream
        if upstream is not None:
            if upstream.down_task is not None:
                upstream.down_task.cancel()
            upstream.writer.close()
        if self._up_pipe is not None:
            self._up_pipe.cancel()
        self._down.cancel()
        self._writer.close()


class _ProxyServer:
    def __init__(self, profile: NetworkProfile, seed: int, via: tuple[str, int] | None = None) -> None:
        self.profile = profile
        self.seed = seed
        self.via = via
        self.stats = _Stats()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.stats.connections
        self.stats.connections += 1
        self.stats.active += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await _ClientConnection(self, reader, writer, index).run()
        finally:
            self.stats.active -= 1
            self._tasks.discard(task)

    async def serve(self, host: str, port: int, sock: socket.socket | None = None, *, watch_stdin: bool = False) -> int:
        def start() -> Awaitable[asyncio.Server]:
            if sock is not None:
                return asyncio.start_server(self._on_client, sock=sock, limit=_MAX_HEAD_BYTES)
            return asyncio.start_server(self._on_client, host, port, limit=_MAX_HEAD_BYTES, backlog=1024)

        return await serve_until_stopped(start, self._tasks, self.stats.as_dict, watch_stdin=watch_stdin)


def _raise_open_file_limit() -> None:
    """Two sockets per simulated user: lift the soft descriptor limit (often 1,024) to the hard one."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux/macOS
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m harness.network.proxy``."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.network.proxy", description="A userland shaping HTTP proxy for one profile."
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--profile-json", help="a NetworkProfile as JSON (NetworkProfile.to_dict())")
    which.add_argument("--profile", help="a preset name, e.g. slow-4g")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (the READY line says which)")
    parser.add_argument("--seed", type=int, default=0, help="seeds jitter and loss, per client connection")
    parser.add_argument("--listen-fd", type=int, help="serve on this inherited listening socket instead")
    parser.add_argument("--via", help="HOST:PORT of a relay that opens every upstream connection")
    parser.add_argument("--stop-on-stdin-eof", action="store_true", help="stop when stdin closes (the parent's pipe)")
    args = parser.parse_args(argv)
    try:
        if args.profile_json is not None:
            profile = NetworkProfile.from_dict(json.loads(args.profile_json))
        else:
            profile = get_profile(args.profile)
    except (ValueError, KeyError, ProfileError) as exc:
        print(f"rehearse proxy: bad profile: {exc}", file=sys.stderr)
        return 2
    via: tuple[str, int] | None = None
    if args.via is not None:
        via_host, _, via_port = args.via.rpartition(":")
        if not via_host or not via_port.isdigit():
            print(f"rehearse proxy: --via wants HOST:PORT, not {args.via!r}", file=sys.stderr)
            return 2
        via = (via_host, int(via_port))
    sock = socket.socket(fileno=args.listen_fd) if args.listen_fd is not None else None
    _raise_open_file_limit()
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            return runner.run(
                _ProxyServer(profile, args.seed, via).serve(
                    args.host, args.port, sock, watch_stdin=args.stop_on_stdin_eof
                )
            )
    except OSError as exc:
        print(f"rehearse proxy: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 3


def start_proxy(
    profile: NetworkProfile,
    seed: int = 0,
    timeout_s: float = 10,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    listen_sock: socket.socket | None = None,
    via: tuple[str, int] | None = None,
    wrap: Sequence[str] = (),
) -> ChildHandle:
    """Spawn ``python -m harness.network.proxy`` for ``profile`` and return once it listens.

    ``listen_sock``: serve on this (already listening) socket instead of ``host:port``; ``via``: send every
    upstream connection to this relay (see ``harness.network.relay``); ``wrap``: an argv prefix the proxy runs
    under (``nsenter ...`` for the kernel backend).
    """
    argv = [*wrap, sys.executable, "-m", "harness.network.proxy", "--profile-json", json.dumps(profile.to_dict())]
    argv += ["--seed", str(seed)]
    pass_fds: tuple[int, ...] = ()
    if listen_sock is not None:
        argv += ["--listen-fd", str(listen_sock.fileno())]
        pass_fds = (listen_sock.fileno(),)
    else:
        argv += ["--host", host, "--port", str(port)]
    if via is not None:
        argv += ["--via", f"{via[0]}:{via[1]}"]
    return spawn_ready(argv, f"the shaping proxy for profile {profile.name!r}", timeout_s, pass_fds=pass_fds)


if __name__ == "__main__":
    sys.exit(main())
