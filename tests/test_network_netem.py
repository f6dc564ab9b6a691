"""The kernel backend: detection, fallback, namespace plumbing, and netem accuracy where the kernel has it."""

from __future__ import annotations

import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import harness.network.netem as netem_module
from harness.errors import NetworkError
from harness.network.kernel import KernelShaping, start_kernel_shaping
from harness.network.netem import NetemNamespace, choose_backend, detect_netem, missing_tools, netem_args
from harness.network.profiles import NetworkProfile, get_profile
from harness.network_setup import ResolvedProfile, start_shaping
from tests.helpers import REPO
from tests.http_origin import (
    IO_TIMEOUT_S,
    LOCAL,
    Origin,
    accuracy_cases,
    make_tls_files,
    model_ms,
    overhead_window,
    timed_gets,
)


@pytest.fixture(scope="module")
def netem() -> tuple[bool, str]:
    return detect_netem()


@pytest.fixture(scope="module")
def userns_probe() -> str:
    """Why namespaces cannot be built here ('' when they can), probed once: the kernel-path tests need no netem."""
    if missing_tools():
        return f"missing {missing_tools()}"
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True, timeout=10)
    return "" if probe.returncode == 0 else "unprivileged user+network namespaces are not available here"


@pytest.fixture
def userns(userns_probe: str) -> None:
    if userns_probe:
        print(f"kernel path tests skipped: {userns_probe}")
        pytest.skip(userns_probe)


@pytest.fixture
def netem_kernel(netem: tuple[bool, str]) -> None:
    """Skips the test, saying why, where the kernel has no netem."""
    available, reason = netem
    if not available:
        print(f"netem tests skipped: {reason}")
        pytest.skip(f"netem unavailable: {reason}")


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
def namespaces(userns: None) -> Iterator[NetemNamespace]:
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


# ------------------------------------------------------------------ the kernel path the load runs through


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    server = Origin("k")
    yield server
    server.stop()


@pytest.fixture
def unshaped(userns: None) -> Iterator[KernelShaping]:
    """The whole kernel path without qdiscs: it runs wherever user namespaces do, netem or not."""
    with start_kernel_shaping(get_profile("slow-4g"), shape=False) as kernel:
        yield kernel


def test_kernel_path_forwards_http_with_host_kept(origin: Origin, unshaped: KernelShaping) -> None:
    with httpx.Client(proxy=unshaped.url, timeout=IO_TIMEOUT_S) as client:
        got = client.post(f"http://{LOCAL}:{origin.port}/echo?x=1", content=b"hello")
        big = client.get(f"http://{LOCAL}:{origin.port}/bytes/300000")
        with socket.socket() as closed:
            closed.bind((LOCAL, 0))
            refused = client.get(f"http://{LOCAL}:{closed.getsockname()[1]}/")
    assert got.status_code == 200 and got.content == b"hello"
    assert got.headers["x-seen-host"] == f"{LOCAL}:{origin.port}"
    assert got.headers["x-seen-target"] == "/echo?x=1"
    assert big.status_code == 200 and len(big.content) == 300_000
    assert refused.status_code == 502 and "cannot connect" in refused.text
    stats = unshaped.stop()
    # the proxy's upstream connections all went through the relay: they crossed the namespaces
    assert stats["relay"]["connections"] == stats["proxy"]["upstream_connects"] >= 2
    assert stats["relay"]["bytes_down"] >= 300_000


def test_kernel_path_tunnels_https_with_certificates_verified(
    unshaped: KernelShaping, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cert, key = make_tls_files(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Origin("tls", tls=context)
    try:
        verify = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(proxy=unshaped.url, verify=verify, timeout=IO_TIMEOUT_S) as client:
            response = client.get(f"https://{LOCAL}:{server.port}/bytes/5000")
    finally:
        server.stop()
    assert response.status_code == 200 and len(response.content) == 5000
    assert response.headers["x-origin"] == "tls"
    assert unshaped.stop()["proxy"]["tunnels"] == 1


def test_kernel_path_is_shaped_by_the_qdisc_on_the_veth(origin: Origin, unshaped: KernelShaping) -> None:
    """A qdisc this kernel does have (tbf, rate only) on the downlink end: 100 KB must take wire bytes ÷ rate.

    This proves that the load's bytes cross the veth pair that netem would shape; netem itself is tested
    below where the kernel has it.
    """
    ns = unshaped.namespace
    tbf = ["tbf", "rate", "2mbit", "burst", "3200", "latency", "2s"]
    ns.run(["tc", "qdisc", "add", "dev", ns.server_if, "root", *tbf], "server")
    n = 100 * 1024
    times = timed_gets(unshaped, origin.port, n, 5, new=False)
    expected = model_ms(NetworkProfile("2mbit", rtt_ms=0, down_kbit=2000), origin, n, new=False)
    median = statistics.median(times)
    print(f"kernel path, tbf 2 Mbit/s, 100 KB kept-alive: median {median:.1f} ms, wire bytes ÷ rate {expected:.1f} ms")
    assert median == pytest.approx(expected, rel=0.05)


@pytest.mark.e2e
def test_kernel_path_overhead_at_200_requests_per_second_is_under_2_ms_at_p95(
    origin: Origin, unshaped: KernelShaping
) -> None:
    """The proxy's overhead test on the kernel path (proxy + veth + relay, no qdisc): one window forgiven."""
    pids = [unshaped.proxy.process.pid, unshaped.relay.process.pid]
    for attempt in range(2):
        added_p50, added_p95, summary = overhead_window(unshaped.port, pids, origin, rate=200, seconds=3.0)
        print(f"kernel path {summary} (window {attempt + 1})")
        if added_p95 < 2.0 and added_p50 < 1.0:
            break
    assert added_p95 < 2.0, summary
    assert added_p50 < 1.0, summary


@pytest.mark.usefixtures("userns")
def test_start_shaping_builds_the_kernel_path_where_netem_works(
    origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.network.kernel as kernel

    monkeypatch.setattr(netem_module, "_detect_netem_once", lambda: (True, "pretend"))
    real = kernel.start_kernel_shaping
    monkeypatch.setattr(kernel, "start_kernel_shaping", lambda p, **kw: real(p, **{**kw, "shape": False}))
    prof = ResolvedProfile("slow-4g", get_profile("slow-4g"))
    shaping = start_shaping(prof, "auto")
    with shaping.handle:
        assert (shaping.backend, shaping.notice) == ("netem", "")
        with httpx.Client(proxy=f"http://{shaping.host}:{shaping.port}", timeout=IO_TIMEOUT_S) as client:
            assert client.get(f"http://{LOCAL}:{origin.port}/bytes/10").content == b"x" * 10
    assert start_shaping(prof, "proxy").backend == "proxy"  # asked for the proxy: no namespaces


# ------------------------------------------------------------------------- netem accuracy, where it exists


@pytest.mark.e2e
@accuracy_cases
@pytest.mark.usefixtures("netem_kernel")
def test_netem_path_matches_the_model(profile: NetworkProfile, n: int, new: bool, origin: Origin) -> None:
    """The proxy's accuracy test, on the kernel path: real TCP over netem, a real server on 127.0.0.1."""
    model = model_ms(profile, origin, n, new=new)
    with start_kernel_shaping(profile) as kernel:
        times = timed_gets(kernel, origin.port, n, 7, new=new)
    median = statistics.median(times)
    print(f"netem {profile.name} {n} B {'new' if new else 'kept'}: median {median:.1f} ms, model {model:.1f} ms")
    assert min(times) > model * 0.97  # never faster than the link allows
    if new and n > 1024:
        # real TCP: a new connection starts with a 10-segment window, so 100 KB needs a few more RTTs of slow start
        # than the model's one handshake (the proxy backend does not model slow start)
        assert median < model + 3 * profile.rtt_ms
    else:
        assert median == pytest.approx(model, rel=0.05)


_PARENT = """
import sys
from harness.network.kernel import start_kernel_shaping
from harness.network.profiles import get_profile
kernel = start_kernel_shaping(get_profile("slow-4g"), shape=False)
holders = kernel.namespace.holder_pids()
print(kernel.proxy.process.pid, kernel.relay.process.pid, *holders, flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.usefixtures("userns")
def test_nothing_outlives_a_killed_parent() -> None:
    """SIGKILL the process that built the kernel path: the proxy, the relay and the namespaces all go."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert parent.stdout is not None
    pids = [int(x) for x in parent.stdout.readline().split()]
    assert len(pids) == 4 and all(_alive(pid) for pid in pids)
    parent.kill()
    parent.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the helpers' exit, bounded by the deadline
    assert not [pid for pid in pids if _alive(pid)], "helpers outlived their parent"


@pytest.mark.e2e
@pytest.mark.usefixtures("netem_kernel")
def test_netem_jitter_and_loss_widen_the_spread(origin: Origin) -> None:
    runs = {}
    for profile in (
        NetworkProfile("40ms", rtt_ms=40),
        NetworkProfile("40ms-20jitter", rtt_ms=40, jitter_ms=20),
        NetworkProfile("40ms-20loss", rtt_ms=40, loss_pct=20),
    ):
        with start_kernel_shaping(profile) as kernel:
            runs[profile.name] = timed_gets(kernel, origin.port, 1024, 40, new=False)
    # 20 % per packet, both ways: about a third of the exchanges lose a segment, so p90 is always one of them
    plain, jittered, lost = runs["40ms"], runs["40ms-20jitter"], runs["40ms-20loss"]
    quartiles = [statistics.quantiles(x, n=4) for x in (plain, jittered)]
    iqr_plain, iqr_jitter = (q[2] - q[0] for q in quartiles)
    p90 = [sorted(x)[int(0.9 * (len(x) - 1))] for x in (plain, lost)]
    print(f"netem: IQR {iqr_plain:.1f} → {iqr_jitter:.1f} ms with jitter; p90 {p90[0]:.1f} → {p90[1]:.1f} ms with loss")
    assert iqr_jitter > 3 * iqr_plain and iqr_jitter > 4.0
    assert p90[1] > p90[0] + 40  # a lost segment costs at least one more RTT (real TCP: often an RTO)
