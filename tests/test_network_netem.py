"""The kernel backend: detection, fallback, namespace plumbing, and netem accuracy where the kernel has it."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.errors import NetworkError
from harness.network.floor import network_floor_ms
from harness.network.netem import NetemNamespace, choose_backend, detect_netem, netem_args
from harness.network.profiles import NetworkProfile, get_profile


@pytest.fixture(scope="module")
def netem() -> tuple[bool, str]:
    return detect_netem()


def _userns_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True, timeout=10
    )
    return probe.returncode == 0


def test_detect_netem_gives_a_verdict_and_a_reason(netem: tuple[bool, str]) -> None:
    available, reason = netem
    print(f"netem: {available} ({reason})")
    assert isinstance(available, bool)
    assert reason.strip()


def test_choose_backend_falls_back_to_the_proxy_with_a_notice(netem: tuple[bool, str]) -> None:
    available, reason = netem
    assert choose_backend("proxy") == ("proxy", "")
    backend, notice = choose_backend("netem")
    if available:
        assert (backend, notice) == ("netem", "")
    else:
        assert backend == "proxy"
        assert "falling back to the userland proxy" in notice and reason in notice
        assert "\n" not in notice
    assert choose_backend("auto")[0] == ("netem" if available else "proxy")


def test_choose_backend_rejects_unknown_names() -> None:
    with pytest.raises(NetworkError, match="unknown network backend 'tc'"):
        choose_backend("tc")


def test_netem_args_split_the_profile_by_direction() -> None:
    wifi = get_profile("office-wifi")  # 40 ms, ±10 ms, 10,240 / 5,120 kbit/s, 0.5 %
    assert netem_args(wifi, "down") == [
        "netem", "limit", "100000", "delay", "20ms", "5ms", "rate", "10240kbit", "loss", "0.5%",
    ]  # fmt: skip
    assert netem_args(wifi, "up")[-4:] == ["rate", "5120kbit", "loss", "0.5%"]
    assert netem_args(get_profile("direct"), "up") == ["netem", "limit", "100000"]
    assert netem_args(NetworkProfile("x", rtt_ms=100, down_kbit=2000), "up") == [
        "netem", "limit", "100000", "delay", "50ms",
    ]  # fmt: skip


@pytest.fixture
def namespaces() -> Iterator[NetemNamespace]:
    if not _userns_works():
        pytest.skip("unprivileged user+network namespaces are not available here")
    with NetemNamespace(get_profile("slow-4g"), shape=False) as ns:
        yield ns


_SERVER = """
import socket, sys
with socket.create_server((sys.argv[1], 0)) as s:
    print(s.getsockname()[1], flush=True)
    conn, _ = s.accept()
    with conn:
        conn.sendall(conn.recv(100)[::-1])
"""
_CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as s:
    s.sendall(b"rehearse")
    print(s.recv(100).decode())
"""


def test_namespace_plumbing_connects_client_to_server(namespaces: NetemNamespace) -> None:
    """Runs without netem: the veth pair, the addresses and ``command()`` are what netem would shape."""
    ns = namespaces
    server = subprocess.Popen(
        ns.command([sys.executable, "-c", _SERVER, ns.server_addr], "server"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        assert port.isdigit(), "server did not start in its namespace"
        out = ns.run([sys.executable, "-c", _CLIENT, ns.server_addr, port], "client").stdout
        assert out.strip() == "esraeher"
        assert server.wait(10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)


def test_command_before_start_is_an_error() -> None:
    with pytest.raises(NetworkError, match="start"):
        NetemNamespace(get_profile("3g")).command(["true"], "client")


def test_netem_matches_the_model(netem: tuple[bool, str]) -> None:
    available, reason = netem
    if not available:
        print(f"netem accuracy skipped: {reason}")
        pytest.skip(f"netem unavailable: {reason}")
    profile = NetworkProfile("100ms-2mbit", rtt_ms=100, down_kbit=2000, up_kbit=2000)
    with NetemNamespace(profile) as ns:
        server = subprocess.Popen(
            ns.command([sys.executable, "-c", _TIMED_SERVER, ns.server_addr], "server"),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = server.stdout.readline().strip()
            out = ns.run([sys.executable, "-c", _TIMED_CLIENT, ns.server_addr, port], "client").stdout
        finally:
            server.kill()
            server.wait(10)
    times = [float(x) for x in out.split()]
    model = network_floor_ms(profile, 1024, request_bytes=64, response_head_bytes=0)
    median = statistics.median(times)
    print(f"netem kept-alive 1 KB, 100 ms / 2 Mbit/s: median {median:.1f} ms, model {model:.1f} ms")
    assert median == pytest.approx(model, rel=0.05)


_TIMED_SERVER = """
import socket, sys
with socket.create_server((sys.argv[1], 0)) as s:
    print(s.getsockname()[1], flush=True)
    conn, _ = s.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with conn:
        for _ in range(1000):
            got = b""
            while len(got) < 64:
                chunk = conn.recv(64 - len(got))
                if not chunk:
                    sys.exit(0)
                got += chunk
            conn.sendall(b"x" * 1024)
"""
_TIMED_CLIENT = """
import socket, sys, time
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as s:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for i in range(10):
        t0 = time.perf_counter()
        s.sendall(b"q" * 64)
        got = 0
        while got < 1024:
            got += len(s.recv(65536))
        if i:
            times.append((time.perf_counter() - t0) * 1000)
    print(" ".join(f"{t:.3f}" for t in times))
"""
