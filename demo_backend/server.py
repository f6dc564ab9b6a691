"""Serving the demo backend with uvicorn on a pre-bound socket (so port 0 works without races)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn

from .app import create_app
from .options import DemoOptions


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit and self._on_ready is not None:
            self._on_ready()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Created with proto=IPPROTO_TCP so asyncio enables TCP_NODELAY on accepted
    connections (without it, small responses pay a ~40 ms Nagle/delayed-ACK stall)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run(
    host: str,
    port: int,
    options: DemoOptions,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serves until SIGTERM/SIGINT. port 0 binds a free port; on_ready gets the base URL once the
    server accepts connections."""
    sock = bind_socket(host, port)
    try:
        app = create_app(options)
    except BaseException:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{bound_port}"
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config, None if on_ready is None else (lambda: on_ready(url)))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        app.state.backend.close()
