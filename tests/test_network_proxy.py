"""The shaping proxy: its link model, and the real proxy subprocess against real servers on 127.0.0.1."""

from __future__ import annotations

import random
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from socketserver import ThreadingTCPServer

import httpx
import pytest

from harness.errors import NetworkError
from harness.network.floor import network_floor_ms
from harness.network.link import Shaper
from harness.network.profiles import PRESETS, NetworkProfile
from harness.network.proxy import ProxyHandle, main, start_proxy
from tests.http_origin import (
    IO_TIMEOUT_S,
    LOCAL,
    SLOW,
    EchoHandler,
    Origin,
    accuracy_cases,
    connect,
    forwarded_get,
    get_request,
    iqr,
    make_tls_files,
    model_ms,
    overhead_window,
    percentile,
    read_response,
    timed_gets,
)


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    server = Origin("a")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxies() -> Iterator[Callable[[NetworkProfile], ProxyHandle]]:
    """One proxy per profile for the whole module (starting one takes a few hundred ms)."""
    running: dict[NetworkProfile, ProxyHandle] = {}

    def get(profile: NetworkProfile) -> ProxyHandle:
        if profile not in running:
            running[profile] = start_proxy(profile, seed=7)
        return running[profile]

    yield get
    for handle in running.values():
        handle.stop()


# ------------------------------------------------------------------------------------- the model, no I/O


def _shaper(**kwargs: float | None) -> Shaper:
    args: dict[str, float | None] = {"rate_kbit": None, "rtt_ms": 0, "jitter_ms": 0, "loss_pct": 0}
    args.update(kwargs)
    start_at = float(args.pop("start_at", 0.0) or 0.0)
    return Shaper(rng=random.Random(1), start_at=start_at, **args)  # type: ignore[arg-type]


def test_shaper_serialises_segments_and_adds_half_the_rtt() -> None:
    shaper = _shaper(rate_kbit=1000, rtt_ms=100)
    tx = (1448 + 66) * 8 / 1_000_000
    assert shaper.schedule(1448, 0.0) == pytest.approx(tx + 0.05)
    assert shaper.schedule(1448, 0.0) == pytest.approx(2 * tx + 0.05)  # FIFO: waits for the first
    assert shaper.schedule(100, 10.0) == pytest.approx(10 + 166 * 8 / 1_000_000 + 0.05)  # idle link again


def test_shaper_holds_the_first_bytes_for_the_handshake() -> None:
    shaper = _shaper(rtt_ms=80, start_at=0.08)
    assert shaper.schedule(10, 0.0) == pytest.approx(0.08 + 0.04)


def test_shaper_jitter_stays_in_range_and_never_reorders() -> None:
    shaper = _shaper(rate_kbit=5000, rtt_ms=40, jitter_ms=20)
    rng = random.Random(3)
    now, last, delays = 0.0, 0.0, []
    for _ in range(2000):
        now += rng.choice([0.0, 0.0001, 0.01, 0.1])
        size = rng.randint(1, 1448)
        at = shaper.schedule(size, now)
        assert at >= last
        last = at
        delays.append(at - now)
    assert min(delays) >= 0.020 - 0.010
    assert statistics.pstdev(delays) > 0.003


def test_shaper_loss_costs_one_rtt_and_blocks_what_follows() -> None:
    lossless, lossy = _shaper(rtt_ms=50), _shaper(rtt_ms=50, loss_pct=30)
    extra = [lossy.schedule(1000, t * 1.0) - lossless.schedule(1000, t * 1.0) for t in range(200)]
    assert all(e == pytest.approx(0) or e == pytest.approx(0.05) for e in extra)
    assert 30 < sum(e > 0.01 for e in extra) < 90


def test_direct_profile_is_transparent() -> None:
    assert _shaper().transparent
    assert not _shaper(loss_pct=1).transparent


# --------------------------------------------------------------------------- accuracy against the model


@pytest.mark.e2e
@accuracy_cases
def test_median_latency_matches_the_model_within_5_percent(
    profile: NetworkProfile,
    n: int,
    new: bool,
    origin: Origin,
    proxies: Callable[[NetworkProfile], ProxyHandle],
) -> None:
    samples = 7 if profile is SLOW and n > 1024 else 9
    model = model_ms(profile, origin, n, new=new)
    times = timed_gets(proxies(profile), origin.port, n, samples, new=new)
    median = statistics.median(times)
    if abs(median / model - 1) >= 0.05:
        # one second batch on a shared 2-core machine (seen once in CI: a whole batch +15 ms on new connections);
        # the better median must still meet the bound, and a proxy that is really off fails both
        again = timed_gets(proxies(profile), origin.port, n, samples, new=new)
        if abs(statistics.median(again) / model - 1) < abs(median / model - 1):
            times, median = again, statistics.median(again)
    error = median / model - 1
    kind = "new" if new else "kept"
    print(
        f"accuracy {profile.name} {n} B {kind}: median {median:.1f} ms, model {model:.1f} ms, "
        f"error {error:+.2%}, min {min(times):.1f} max {max(times):.1f}"
    )
    assert abs(error) < 0.05, f"median {median:.1f} ms vs model {model:.1f} ms: {times}"
    assert min(times) > model * 0.97  # never meaningfully faster than the link allows


@pytest.mark.e2e
def test_each_client_connection_is_its_own_link(
    origin: Origin, proxies: Callable[[NetworkProfile], ProxyHandle]
) -> None:
    """20 users downloading 100 KB at once each get the full 2 Mbit/s: the rate is per device, not shared."""
    users, n = 20, 100 * 1024
    handle = proxies(SLOW)
    model = model_ms(SLOW, origin, n, new=False)
    results: list[list[float]] = []
    start = threading.Barrier(users, timeout=IO_TIMEOUT_S)

    def user() -> None:
        sock = connect(handle.port)
        buffer = bytearray()
        sock.sendall(get_request(origin.port, 16))
        read_response(sock, buffer)
        start.wait()
        t0 = time.perf_counter()
        sock.sendall(get_request(origin.port, n))
        read_response(sock, buffer)
        results.append([(time.perf_counter() - t0) * 1000])
        sock.close()

    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(IO_TIMEOUT_S)
    times = [t for r in results for t in r]
    print(
        f"{users} concurrent users, 100 KB at 2 Mbit/s each: median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms, model {model:.1f} ms"
    )
    assert len(times) == users
    assert statistics.median(times) == pytest.approx(model, rel=0.05)


@pytest.mark.e2e
def test_jitter_widens_the_spread_but_not_the_middle(
    origin: Origin, proxies: Callable[[NetworkProfile], ProxyHandle]
) -> None:
    steady = NetworkProfile("40ms", rtt_ms=40)
    jittery = NetworkProfile("40ms-20jitter", rtt_ms=40, jitter_ms=20)
    plain = timed_gets(proxies(steady), origin.port, 1024, 20, new=False)
    jittered = timed_gets(proxies(jittery), origin.port, 1024, 20, new=False)
    iqr_plain, iqr_jitter = iqr(plain), iqr(jittered)  # robust to a stray slow sample on a busy machine
    print(
        f"jitter: IQR {iqr_plain:.2f} ms without, {iqr_jitter:.2f} ms with ±20 ms; "
        f"medians {statistics.median(plain):.1f} / {statistics.median(jittered):.1f} ms"
    )
    assert iqr_jitter > 4.0 and iqr_jitter > 3 * iqr_plain  # expected ~11.7 ms: RTT is triangular on 40 ± 20
    assert min(jittered) > 40 - 20 - 0.5  # each one-way delay stays within ±jitter/2
    assert abs(statistics.median(jittered) - 40) < 10


@pytest.mark.e2e
def test_loss_raises_the_upper_percentiles(origin: Origin, proxies: Callable[[NetworkProfile], ProxyHandle]) -> None:
    clean = NetworkProfile("20ms", rtt_ms=20)
    lossy = NetworkProfile("20ms-20loss", rtt_ms=20, loss_pct=20)
    plain = timed_gets(proxies(clean), origin.port, 1024, 30, new=False)
    lost = timed_gets(proxies(lossy), origin.port, 1024, 30, new=False)
    p90_plain, p90_lost = percentile(plain, 90), percentile(lost, 90)
    print(
        f"loss: p90 {p90_plain:.1f} ms without, {p90_lost:.1f} ms with 20 % loss; "
        f"medians {statistics.median(plain):.1f} / {statistics.median(lost):.1f} ms"
    )
    assert p90_lost > p90_plain + 15  # a lost segment costs one more RTT (20 ms)
    assert statistics.median(lost) < 20 * 1.25  # most requests lose nothing (P = 0.8² per request)


# --------------------------------------------------------------------------------------------- overhead


@pytest.mark.e2e
def test_proxy_overhead_at_200_requests_per_second_is_under_2_ms_at_p95(origin: Origin) -> None:
    """200 req/s of 1 KB for 3 s through a ``direct`` proxy vs straight to the server, side by side.

    The proxy is one more process to wake twice per request: when a neighbour saturates both cores, the
    scheduler alone can add ~2 ms at p95 (measured with two busy loops running). One such window is forgiven;
    a second must pass, so a proxy that is really slow still fails.
    """
    with start_proxy(PRESETS["direct"]) as handle:
        for attempt in range(2):
            added_p50, added_p95, summary = overhead_window(
                handle.port, [handle.process.pid], origin, rate=200, seconds=3.0
            )
            print(f"{summary} (window {attempt + 1})")
            if added_p95 < 2.0 and added_p50 < 1.0:
                break
    assert added_p95 < 2.0, summary
    assert added_p50 < 1.0, summary


# --------------------------------------------------------------------------------------------- CONNECT


def _open_tunnel(handle: ProxyHandle, port: int) -> tuple[socket.socket, float]:
    """CONNECT to 127.0.0.1:port; returns the socket and ms until the 200 arrived."""
    sock = connect(handle.port)
    t0 = time.perf_counter()
    sock.sendall(f"CONNECT {LOCAL}:{port} HTTP/1.1\r\nHost: {LOCAL}:{port}\r\n\r\n".encode())
    reply = b""
    for _ in range(1000):
        if b"\r\n\r\n" in reply:
            break
        reply += sock.recv(1)  # byte by byte: nothing after the blank line may be consumed
    assert reply.startswith(b"HTTP/1.1 200"), reply
    return sock, (time.perf_counter() - t0) * 1000


@pytest.mark.e2e
def test_connect_tunnels_bytes_both_ways_and_costs_a_handshake() -> None:
    echo = ThreadingTCPServer((LOCAL, 0), EchoHandler)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    profile = NetworkProfile("10ms-50mbit", rtt_ms=10, down_kbit=50_000, up_kbit=50_000)
    payload = random.Random(5).randbytes(300_000)
    try:
        with start_proxy(profile) as handle:
            sock, handshake_ms = _open_tunnel(handle, int(echo.server_address[1]))
            sender = threading.Thread(target=lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR)))
            sender.start()
            received = bytearray()
            for _ in range(100_000):
                data = sock.recv(65536)
                if not data:
                    break
                received += data
            sender.join(IO_TIMEOUT_S)
            sock.close()
            stats = handle.stop()
    finally:
        echo.shutdown()
        echo.server_close()
    assert bytes(received) == payload
    assert handshake_ms > 10 - 0.5  # the 200 stands in for SYN / SYN-ACK
    assert stats["tunnels"] == 1 and stats["bytes_up"] == stats["bytes_down"] == len(payload)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_origin(tls_files: tuple[Path, Path]) -> Iterator[Origin]:
    cert, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Origin("tls", tls=context)
    yield server
    server.stop()


@pytest.mark.e2e
def test_https_through_connect_verifies_end_to_end(tls_origin: Origin, tls_files: tuple[Path, Path]) -> None:
    verify = ssl.create_default_context(cafile=str(tls_files[0]))
    with start_proxy(NetworkProfile("5ms", rtt_ms=5)) as handle:
        with httpx.Client(proxy=handle.url, verify=verify, timeout=IO_TIMEOUT_S) as client:
            for n in (10, 5000, 200_000):
                response = client.get(f"https://{LOCAL}:{tls_origin.port}/bytes/{n}")
                assert response.status_code == 200 and len(response.content) == n
                assert response.headers["x-origin"] == "tls"
        stats = handle.stop()
    assert stats["tunnels"] == 1 and stats["connections"] == 1  # one tunnel, kept alive


@pytest.mark.e2e
def test_https_new_connection_costs_handshake_tls_and_request_round_trips(
    tls_origin: Origin, tls_files: tuple[Path, Path], proxies: Callable[[NetworkProfile], ProxyHandle]
) -> None:
    profile = NetworkProfile("50ms", rtt_ms=50)
    handle = proxies(profile)
    context = ssl.create_default_context(cafile=str(tls_files[0]))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        raw, _ = _open_tunnel(handle, tls_origin.port)
        with context.wrap_socket(raw, server_hostname=LOCAL) as tls:
            tls.sendall(forwarded_get(tls_origin.port, 1024))
            status, _, body = read_response(tls, bytearray())  # type: ignore[arg-type]
        times.append((time.perf_counter() - t0) * 1000)
        assert status == 200 and len(body) == 1024
    model = network_floor_ms(profile, 1024, new_connection=True, tls=True)  # 3 RTTs on TLS 1.3
    print(f"https new connection, 50 ms RTT: median {statistics.median(times):.1f} ms, model {model:.1f} ms")
    assert statistics.median(times) == pytest.approx(model, rel=0.10)


# ------------------------------------------------------------------------------------------- HTTP rules


@pytest.fixture(scope="module")
def plain(proxies: Callable[[NetworkProfile], ProxyHandle]) -> ProxyHandle:
    return proxies(NetworkProfile("1ms", rtt_ms=1))


def _exchange(handle: ProxyHandle, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(handle.port) as sock:
        sock.sendall(request)
        return read_response(sock, bytearray())


@pytest.mark.e2e
def test_httpx_keeps_one_connection_alive_through_the_proxy(origin: Origin) -> None:
    with start_proxy(NetworkProfile("1ms", rtt_ms=1)) as handle:
        with httpx.Client(proxy=handle.url, timeout=IO_TIMEOUT_S) as client:
            for n in (0, 1, 1000, 70_000):
                response = client.get(f"http://{LOCAL}:{origin.port}/bytes/{n}")
                assert response.status_code == 200 and len(response.content) == n
        stats = handle.stop()
    assert stats["connections"] == 1 and stats["upstream_connects"] == 1 and stats["requests"] == 4


@pytest.mark.e2e
def test_requests_are_rewritten_to_origin_form_with_host_kept(origin: Origin, plain: ProxyHandle) -> None:
    request = (
        f"POST http://{LOCAL}:{origin.port}/echo?x=1 HTTP/1.1\r\nHost: {LOCAL}:{origin.port}\r\n"
        "Proxy-Connection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"
    ).encode()
    status, headers, body = _exchange(plain, request)
    assert (status, body) == (200, b"hello")
    assert headers["x-seen-target"] == "/echo?x=1"
    assert headers["x-seen-host"] == f"{LOCAL}:{origin.port}"
    assert headers["x-seen-proxy-connection"] == "absent"


@pytest.mark.e2e
def test_request_bodies_by_length_and_chunked(origin: Origin, plain: ProxyHandle) -> None:
    big = random.Random(1).randbytes(150_000)
    target = f"http://{LOCAL}:{origin.port}/echo"
    with connect(plain.port) as sock:
        buffer = bytearray()
        sock.sendall(f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(big)}\r\n\r\n".encode() + big)
        assert read_response(sock, buffer)[2] == big
        chunks = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
        sock.sendall(f"POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + chunks)
        assert read_response(sock, buffer)[2] == b"hello world"


@pytest.mark.e2e
def test_pipelined_requests_come_back_in_order(origin: Origin, plain: ProxyHandle) -> None:
    with connect(plain.port) as sock:
        sock.sendall(get_request(origin.port, 3) + get_request(origin.port, 70_000) + get_request(origin.port, 5))
        buffer = bytearray()
        assert [len(read_response(sock, buffer)[2]) for _ in range(3)] == [3, 70_000, 5]


@pytest.mark.e2e
def test_another_host_on_the_same_connection_switches_upstream(origin: Origin, plain: ProxyHandle) -> None:
    other = Origin("b")
    try:
        with connect(plain.port) as sock:
            buffer = bytearray()
            seen = []
            for port in (origin.port, other.port, other.port, origin.port):
                sock.sendall(get_request(port, 100))
                seen.append(read_response(sock, buffer)[1]["x-origin"])
        assert seen == ["a", "b", "b", "a"]
    finally:
        other.stop()


@pytest.mark.e2e
def test_server_closing_closes_the_client_connection(origin: Origin, plain: ProxyHandle) -> None:
    with connect(plain.port) as sock:
        port = origin.port
        closing = f"GET http://{LOCAL}:{port}/bytes/10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        sock.sendall(closing.encode())
        buffer = bytearray()
        assert read_response(sock, buffer)[0] == 200
        assert sock.recv(100) == b"" and not buffer


@pytest.mark.e2e
def test_unreachable_upstream_is_a_502(plain: ProxyHandle) -> None:
    with socket.socket() as probe:
        probe.bind((LOCAL, 0))
        closed_port = probe.getsockname()[1]  # bound, never listening: connections are refused
        status, headers, body = _exchange(plain, get_request(closed_port, 1))
    assert status == 502 and headers["connection"] == "close"
    assert b"cannot connect" in body


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET /bytes/1 HTTP/1.1", 400),  # origin form: this is a proxy, not the server
        (b"GET https://127.0.0.1:1/ HTTP/1.1", 501),  # https needs CONNECT
        (b"CONNECT nonsense HTTP/1.1", 400),
        (b"garbage", 400),
    ],
)
def test_bad_requests_get_an_error_response(plain: ProxyHandle, request_line: bytes, status: int) -> None:
    assert _exchange(plain, request_line + b"\r\nHost: x\r\n\r\n")[0] == status


# ------------------------------------------------------------------------------------------- lifecycle


@pytest.mark.e2e
def test_stop_is_clean_and_reports_counters(origin: Origin) -> None:
    handle = start_proxy(NetworkProfile("1ms", rtt_ms=1))
    assert handle.url == f"http://{LOCAL}:{handle.port}"
    status, _, _ = _exchange(handle, get_request(origin.port, 10))
    stats = handle.stop()
    assert status == 200
    assert handle.process.returncode == 0
    assert stats["connections"] == 1 and stats["requests"] == 1 and stats["errors"] == 0
    assert handle.stop() == stats  # idempotent


@pytest.mark.e2e
def test_start_failure_is_a_network_error_with_the_reason() -> None:
    with socket.socket() as busy:
        busy.bind((LOCAL, 0))
        busy.listen()
        with pytest.raises(NetworkError, match=r"did not start.*cannot listen"):
            start_proxy(PRESETS["direct"], port=busy.getsockname()[1])


def test_cli_rejects_a_bad_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile-json", '{"name": "x", "rtt_ms": -5}']) == 2
    assert "rtt_ms" in capsys.readouterr().err
    assert main(["--profile", "nope"]) == 2
