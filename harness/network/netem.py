"""The kernel backend's link: ``tc netem`` on a veth pair between two rootless network namespaces.

``harness.network.kernel`` puts the load's traffic on this link; this module detects netem, builds the
namespaces and turns a profile into netem arguments.

Everything happens inside a user namespace we create (``unshare --user --map-root-user --net``), so no root is
needed and host interfaces are never touched. Where the kernel lacks netem (CONFIG_NET_SCH_NETEM unset, as on
the machine this was written on: "Specified qdisc kind is unknown"), ``choose_backend`` falls back to the
userland proxy with a one-line notice.

Kernel shaping differs from the proxy in one known way: real TCP runs over it, so new connections show slow
start (about +50 ms for 100 KB at 100 ms / 2 Mbit/s) on top of ``network_floor_ms``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Sequence
from functools import cache
from types import TracebackType
from typing import Any, Literal

from harness.errors import NetworkError
from harness.network.profiles import NetworkProfile

__all__ = ["BACKENDS", "NetemNamespace", "choose_backend", "detect_netem", "missing_tools", "netem_args"]

BACKENDS = ("proxy", "netem", "auto")
Side = Literal["server", "client"]

_SBIN = ("/usr/sbin", "/sbin")
# holds a namespace open until its stdin closes: stop(), or our process ending in any way (even SIGKILL)
_HOLD = "echo ready; read _ || true"


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in _SBIN:
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


def missing_tools() -> list[str]:
    """The command-line tools the kernel backend needs that are not installed here."""
    return [name for name in ("unshare", "nsenter", "ip", "tc") if _tool(name) is None]


def detect_netem(timeout_s: float = 5.0) -> tuple[bool, str]:
    """Whether ``tc qdisc ... netem`` works here, and why not; probes ``lo`` in a throwaway namespace."""
    unshare, tc = _tool("unshare"), _tool("tc")
    if unshare is None:
        return False, "unshare (util-linux) is not installed"
    if tc is None:
        return False, "tc (iproute2) is not installed"
    argv = [unshare, "--user", "--map-root-user", "--net", tc, "qdisc", "add", "dev", "lo", "root", "netem"]
    argv += ["delay", "1ms"]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"the netem probe (unshare + tc) did not finish within {timeout_s} s"
    except OSError as exc:
        return False, f"cannot run the netem probe: {exc}"
    if proc.returncode == 0:
        return True, "tc netem works in a rootless user+network namespace"
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    message = lines[-1].strip() if lines else f"exit code {proc.returncode}"
    lowered = message.lower()
    if "qdisc kind is unknown" in lowered or "unknown qdisc" in lowered:
        return False, f"this kernel has no netem qdisc (sch_netem); tc says: {message}"
    if lowered.startswith("unshare"):
        return False, f"cannot create a user+network namespace (unprivileged user namespaces off?): {message}"
    return False, f"tc netem failed: {message}"


@cache
def _detect_netem_once() -> tuple[bool, str]:
    return detect_netem()


def choose_backend(requested: str) -> tuple[str, str]:
    """("proxy" | "netem", notice): netem when requested (or "auto") and it works, else the proxy.

    The notice is empty unless the choice differs from the request; then it is one line saying why.
    """
    if requested not in BACKENDS:
        raise NetworkError(f"unknown network backend {requested!r}; choose one of {', '.join(BACKENDS)}")
    if requested == "proxy":
        return "proxy", ""
    available, reason = _detect_netem_once()
    if available:
        return "netem", ""
    if requested == "auto":
        return "proxy", f"network shaping: using the userland proxy ({reason})"
    return "proxy", f"network shaping: netem unavailable, falling back to the userland proxy ({reason})"


def netem_args(profile: NetworkProfile, direction: Literal["up", "down"]) -> list[str]:
    """The ``tc qdisc add dev X root`` arguments shaping one direction of ``profile``.

    Each side delays rtt/2 ± jitter/2 (netem's uniform jitter), so the RTT is rtt ± jitter as in the proxy.
    netem's rate counts whole frames (Ethernet + IP + TCP headers: the 66 bytes the proxy adds per segment).
    Without a rate, netem's jitter may reorder packets; with one, packets leave in order.
    """
    args = ["netem", "limit", "100000"]
    if profile.rtt_ms or profile.jitter_ms:
        args += ["delay", f"{profile.rtt_ms / 2:g}ms"]
        if profile.jitter_ms:
            args.append(f"{profile.jitter_ms / 2:g}ms")
    rate = profile.down_kbit if direction == "down" else profile.up_kbit
    if rate is not None:
        args += ["rate", f"{rate:g}kbit"]
    if profile.loss_pct:
        args += ["loss", f"{profile.loss_pct:g}%"]
    return args


class NetemNamespace:
    """Two rootless network namespaces joined by a veth pair, shaped with netem on both ends.

    Run the target on the server side and the load on the client side (``command()`` wraps an argv)::

        with NetemNamespace(get_profile("slow-4g")) as ns:
            target = subprocess.Popen(ns.command(["uvicorn", "app:app", "--host", ns.server_addr], "server"))
            ...load with ns.command([...], "client") against http://{ns.server_addr}:8000

    The server side egress carries the downlink (rate ``down_kbit``), the client side egress the uplink.
    ``shape=False`` builds the same plumbing without qdiscs (it works where netem does not). Processes started
    through ``command()`` keep their namespace alive: end them before ``stop()``.
    """

    server_addr = "10.213.0.1"
    client_addr = "10.213.0.2"
    server_if = "rh-srv"
    client_if = "rh-cli"

    def __init__(self, profile: NetworkProfile, *, shape: bool = True, timeout_s: float = 10.0) -> None:
        self.profile = profile
        self.shape = shape
        self.timeout_s = timeout_s
        self._holders: dict[Side, subprocess.Popen[bytes]] = {}

    def command(self, argv: Sequence[str], side: Side) -> list[str]:
        """``argv`` run inside the ``side`` namespace (as root of our user namespace)."""
        holder = self._holders.get(side)
        if holder is None:
            raise NetworkError("the netem namespaces are not running; call start() first")
        return [*self._enter(holder.pid), *argv]

    def holder_pids(self) -> list[int]:
        """The processes holding the namespaces open (the namespaces end with them)."""
        return [holder.pid for holder in self._holders.values()]

    def run(self, argv: Sequence[str], side: Side, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` to completion inside ``side``; raises NetworkError when it fails."""
        wrapped = self.command(argv, side)
        try:
            proc = subprocess.run(
                wrapped, capture_output=True, text=True, timeout=self.timeout_s, check=False, **kwargs
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NetworkError(f"netem setup: {' '.join(argv)}: {exc}") from exc
        if proc.returncode != 0:
            raise NetworkError(f"netem setup: {' '.join(argv)} failed: {proc.stderr.strip() or proc.returncode}")
        return proc

    def start(self) -> NetemNamespace:
        """Create the namespaces, the veth pair, the addresses and (with ``shape``) the netem qdiscs."""
        unshare, ip, tc = _tool("unshare"), _tool("ip"), _tool("tc")
        if unshare is None or ip is None or tc is None or missing_tools():
            raise NetworkError(
                f"netem needs unshare, nsenter (util-linux), ip and tc (iproute2); missing: {missing_tools()}"
            )
        try:
            server = self._hold([unshare, "--user", "--map-root-user", "--net", "sh", "-c", _HOLD])
            self._holders["server"] = server
            self._holders["client"] = self._hold([*self._enter(server.pid), unshare, "--net", "sh", "-c", _HOLD])
            client_pid = str(self._holders["client"].pid)
            s, c = self.server_if, self.client_if
            for argv in (
                [ip, "link", "set", "lo", "up"],
                [ip, "link", "add", s, "type", "veth", "peer", "name", c, "netns", client_pid],
                [ip, "addr", "add", f"{self.server_addr}/24", "dev", s],
                [ip, "link", "set", s, "up"],
            ):
                self.run(argv, "server")
            for argv in (
                [ip, "link", "set", "lo", "up"],
                [ip, "addr", "add", f"{self.client_addr}/24", "dev", c],
                [ip, "link", "set", c, "up"],
            ):
                self.run(argv, "client")
            if self.shape:
                self.run([tc, "qdisc", "add", "dev", s, "root", *netem_args(self.profile, "down")], "server")
                self.run([tc, "qdisc", "add", "dev", c, "root", *netem_args(self.profile, "up")], "client")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """End the namespace holders; the namespaces (and the veth pair) go with their last process."""
        sides: tuple[Side, ...] = ("client", "server")
        for side in sides:
            holder = self._holders.pop(side, None)
            if holder is None:
                continue
            if holder.stdin is not None:
                with contextlib.suppress(OSError):
                    holder.stdin.close()
            if holder.poll() is None:
                holder.terminate()
                try:
                    holder.wait(self.timeout_s)
                except subprocess.TimeoutExpired:
                    holder.kill()
                    holder.wait(self.timeout_s)
            if holder.stdout is not None:
                holder.stdout.close()

    def __enter__(self) -> NetemNamespace:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @staticmethod
    def _enter(pid: int) -> list[str]:
        nsenter = _tool("nsenter") or "nsenter"
        return [nsenter, "--target", str(pid), "--user", "--net", "--preserve-credentials"]

    def _hold(self, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start a process that only holds a namespace open, and wait for its "ready" line."""
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise NetworkError(f"cannot create a network namespace: {exc}") from exc
        assert proc.stdout is not None
        deadline = time.monotonic() + self.timeout_s
        line = b""
        fd = proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 64)
                if not chunk:
                    break
                line += chunk
        if line.strip() != b"ready":
            with contextlib.suppress(OSError):
                proc.kill()
            _, err = proc.communicate(timeout=self.timeout_s)
            detail = err.decode(errors="replace").strip() or repr(line)
            raise NetworkError(f"cannot create a network namespace: {detail}")
        if proc.stderr is not None:
            proc.stderr.close()
        return proc
