"""The kernel backend's exit relay: the way out of the shaped namespaces to the real target.

The load's proxy runs inside the client namespace, so every upstream connection it opens crosses the netem
veth pair to a listening socket that lives in the server namespace. This process owns that socket but runs
in the host's namespace (the socket was made inside the namespace and handed over with SCM_RIGHTS), so it can
reach any target the host can: ``127.0.0.1``, the LAN, the internet. Each connection starts with one line,
``<host> <port>\\n`` (``relay_preamble``); the relay connects there and then copies bytes both ways without
touching them, so TLS inside a CONNECT tunnel still verifies end to end. It adds no delay of its own.

    python -m harness.network.relay --listen-fd 5          # prints READY <addr> <port>, STATS on SIGTERM
    python -m harness.network.relay --make-listener 10.213.0.1 --send-to-fd 6   # the in-namespace helper
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys

from harness.network.spawn import serve_until_stopped

__all__ = ["main", "relay_preamble"]

_MAX_PREAMBLE = 512
_READ_SIZE = 65536
_CONNECT_TIMEOUT_S = 10.0


def relay_preamble(host: str, port: int) -> bytes:
    """The first line of a relayed connection: where the relay should connect."""
    return f"{host} {port}\n".encode("idna" if not host.isascii() else "ascii")


def _bad_gateway(detail: str) -> bytes:
    body = f"rehearse netem relay: {detail}\n".encode()
    head = f"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    total = 0
    try:
        while data := await reader.read(_READ_SIZE):
            total += len(data)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
    return total


class _Relay:
    def __init__(self) -> None:
        self.stats = {"connections": 0, "active": 0, "errors": 0, "bytes_up": 0, "bytes_down": 0}
        self._tasks: set[asyncio.Task[None]] = set()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats["connections"] += 1
        self.stats["active"] += 1
        try:
            await self._relay(reader, writer)
        finally:
            self.stats["active"] -= 1
            self._tasks.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readuntil(b"\n")
            host, port_text = line.decode("ascii").split()
            port = int(port_text)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, UnicodeDecodeError, ValueError, OSError):
            self.stats["errors"] += 1
            return
        try:
            opening = asyncio.open_connection(host, port)
            up_reader, up_writer = await asyncio.wait_for(opening, _CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            self.stats["errors"] += 1
            with contextlib.suppress(OSError):
                writer.write(_bad_gateway(f"cannot connect to {host}:{port}: {exc.__class__.__name__}: {exc}"))
                await writer.drain()
            return
        try:
            up, down = await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
            self.stats["bytes_up"] += up
            self.stats["bytes_down"] += down
        finally:
            up_writer.close()

    async def serve(self, sock: socket.socket, *, watch_stdin: bool = False) -> int:
        return await serve_until_stopped(
            lambda: asyncio.start_server(self._on_client, sock=sock, limit=_MAX_PREAMBLE),
            self._tasks,
            lambda: self.stats,
            watch_stdin=watch_stdin,
        )


def _make_listener(addr: str, channel_fd: int) -> int:
    """Run inside a namespace: listen on ``addr`` (any port) and hand the socket to the parent."""
    with socket.socket(fileno=channel_fd) as channel, socket.create_server((addr, 0), backlog=1024) as listener:
        socket.send_fds(channel, [b"L"], [listener.fileno()])
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m harness.network.relay``."""
    parser = argparse.ArgumentParser(prog="python -m harness.network.relay", description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--listen-fd", type=int, help="relay connections accepted on this inherited socket")
    which.add_argument("--make-listener", metavar="ADDR", help="make a listening socket here and send it back")
    parser.add_argument("--send-to-fd", type=int, help="with --make-listener: the inherited UNIX socket to send on")
    parser.add_argument("--stop-on-stdin-eof", action="store_true", help="stop when stdin closes (the parent's pipe)")
    args = parser.parse_args(argv)
    try:
        if args.make_listener is not None:
            if args.send_to_fd is None:
                parser.error("--make-listener needs --send-to-fd")
            return _make_listener(args.make_listener, args.send_to_fd)
        with asyncio.Runner() as runner:
            return runner.run(_Relay().serve(socket.socket(fileno=args.listen_fd), watch_stdin=args.stop_on_stdin_eof))
    except OSError as exc:
        print(f"rehearse relay: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
