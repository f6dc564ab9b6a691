"""The kernel backend assembled: load → proxy (client namespace) → netem veth → relay (host) → target.

The load generator stays where it is (the gevent process and its workers, in the host's namespace) and talks
to an ordinary HTTP proxy on ``127.0.0.1``, exactly as with the userland backend; only the path behind that
proxy differs::

    Locust users ──lo──▶ proxy, no shaping of its own        (runs in the client namespace; its listening
                          │                                   socket was made in the host's and inherited)
                          │ one TCP connection per device link, over the veth pair: netem both ways
                          ▼
                         listening socket in the server namespace, owned by the exit relay (host namespace)
                          │
                          ▼
                         the target, wherever the host can reach it

So the kernel shapes real TCP: handshakes, slow start, retransmissions after netem's losses. Every simulated
user keeps its own connection through the link, as with the proxy. Nothing here touches the host's
interfaces, and no root is needed where unprivileged user namespaces are allowed.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from types import TracebackType

from harness.errors import NetworkError
from harness.network.netem import NetemNamespace, Side
from harness.network.profiles import PRESETS, NetworkProfile
from harness.network.proxy import start_proxy
from harness.network.spawn import ChildHandle, spawn_ready

__all__ = ["KernelShaping", "listener_inside", "start_kernel_shaping"]


def listener_inside(ns: NetemNamespace, side: Side, addr: str, timeout_s: float = 10.0) -> socket.socket:
    """A listening TCP socket on ``addr`` (any port) that lives in ``side``'s namespace, held by this process."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with mine, theirs:
        argv = [sys.executable, "-m", "harness.network.relay", "--make-listener", addr]
        argv += ["--send-to-fd", str(theirs.fileno())]
        try:
            proc = subprocess.run(
                ns.command(argv, side),
                pass_fds=(theirs.fileno(),),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NetworkError(f"netem: cannot make a listening socket in the {side} namespace: {exc}") from exc
        if proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            raise NetworkError(f"netem: cannot make a listening socket in the {side} namespace: {detail[0]}")
        theirs.close()
        mine.settimeout(timeout_s)
        _, fds, _, _ = socket.recv_fds(mine, 16, 1)
    if not fds:
        raise NetworkError(f"netem: the {side} namespace sent no listening socket")
    return socket.socket(fileno=fds[0])


class KernelShaping:
    """The running kernel backend for one profile: ``host:port`` is the HTTP proxy the load should use."""

    backend = "netem"

    def __init__(self, ns: NetemNamespace, relay: ChildHandle, proxy: ChildHandle) -> None:
        self.namespace = ns
        self.relay = relay
        self.proxy = proxy
        self.host = proxy.host
        self.port = proxy.port
        self.stats: dict[str, dict[str, int]] = {}

    @property
    def url(self) -> str:
        return self.proxy.url

    def stop(self) -> dict[str, dict[str, int]]:
        """End the proxy, the relay and the namespaces (in that order); returns both helpers' counters."""
        try:
            self.stats = {"proxy": self.proxy.stop(), "relay": self.relay.stop()}
        finally:
            self.namespace.stop()
        return self.stats

    def __enter__(self) -> KernelShaping:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_kernel_shaping(
    profile: NetworkProfile, *, shape: bool = True, host: str = "127.0.0.1", timeout_s: float = 30.0
) -> KernelShaping:
    """Build the namespaces (netem on both veth ends unless ``shape=False``), the relay and the proxy."""
    ns = NetemNamespace(profile, shape=shape, timeout_s=timeout_s).start()
    relay: ChildHandle | None = None
    try:
        with listener_inside(ns, "server", ns.server_addr, timeout_s) as inside:
            argv = [sys.executable, "-m", "harness.network.relay", "--listen-fd", str(inside.fileno())]
            relay = spawn_ready(argv, "the netem exit relay", timeout_s, pass_fds=(inside.fileno(),))
        try:
            entry = socket.create_server((host, 0), backlog=1024)
        except OSError as exc:
            raise NetworkError(f"netem: cannot listen on {host}: {exc}") from exc
        with entry:
            proxy = start_proxy(
                PRESETS["direct"],
                timeout_s=timeout_s,
                listen_sock=entry,
                via=(relay.host, relay.port),
                wrap=ns.command([], "client"),
            )
        return KernelShaping(ns, relay, proxy)
    except BaseException:
        if relay is not None:
            with contextlib.suppress(Exception):
                relay.stop()
        ns.stop()
        raise
