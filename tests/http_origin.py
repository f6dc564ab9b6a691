"""Real servers on 127.0.0.1 and a raw HTTP/1.1 client, shared by the proxy and kernel-backend tests."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import BaseRequestHandler
from typing import Protocol

import pytest

from harness.network.floor import network_floor_ms
from harness.network.profiles import NetworkProfile

# the accuracy matrix both backends are held to: two links x 1 KB / 100 KB x kept-alive / new connection
SLOW = NetworkProfile("100ms-2mbit", rtt_ms=100, down_kbit=2000, up_kbit=2000)
FAST = NetworkProfile("40ms-10mbit", rtt_ms=40, down_kbit=10_000, up_kbit=10_000)


def accuracy_cases(test: Callable[..., None]) -> Callable[..., None]:
    """Parametrizes ``test(profile, n, new, ...)`` over the accuracy matrix."""
    test = pytest.mark.parametrize("new", [False, True], ids=["kept-alive", "new-conn"])(test)
    test = pytest.mark.parametrize("n", [1024, 100 * 1024], ids=["1KB", "100KB"])(test)
    return pytest.mark.parametrize("profile", [SLOW, FAST], ids=lambda p: p.name)(test)


class HasPort(Protocol):
    @property
    def port(self) -> int: ...


LOCAL = "127.0.0.1"
IO_TIMEOUT_S = 15.0


# ------------------------------------------------------------------------------------------- real servers


class OriginHandler(BaseHTTPRequestHandler):
    """GET /bytes/N: N bytes, head and body in one write. POST /echo: the body back, plus what it saw."""

    protocol_version = "HTTP/1.1"
    server: Origin

    def do_GET(self) -> None:
        if not self.path.startswith("/bytes/"):
            self._reply(404, b"not found\n")
            return
        self._reply(200, b"x" * int(self.path.rsplit("/", 1)[1]))

    def do_POST(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            body = b""
            for _ in range(10_000):
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen = {
            "X-Seen-Target": self.path,
            "X-Seen-Host": self.headers.get("Host", "absent"),
            "X-Seen-Proxy-Connection": self.headers.get("Proxy-Connection", "absent"),
        }
        self._reply(200, body, seen)

    def _reply(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.wfile.write(response_head(len(body), self.server.name, status, extra) + body)
        if self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def response_head(n: int, name: str, status: int = 200, extra: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {n}", f"X-Origin: {name}"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Origin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str, tls: ssl.SSLContext | None = None) -> None:
        super().__init__((LOCAL, 0), OriginHandler)
        self.name = name
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.port = int(self.server_address[1])
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name=f"origin-{name}")
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class EchoHandler(BaseRequestHandler):
    def handle(self) -> None:
        for _ in range(1 << 20):
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


# ------------------------------------------------------------------------------------------ a raw client


def connect(port: int) -> socket.socket:
    sock = socket.create_connection((LOCAL, port), timeout=IO_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One Content-Length-framed response; ``buffer`` keeps bytes of the next one (pipelining)."""
    for _ in range(100_000):
        if b"\r\n\r\n" in buffer:
            break
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed inside a response head: {bytes(buffer)!r}")
        buffer += data
    raw_head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    body = bytearray(rest)
    for _ in range(100_000):
        if len(body) >= length:
            break
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed inside a response body")
        body += data
    buffer[:] = body[length:]
    return int(lines[0].split(" ")[1]), headers, bytes(body[:length])


def get_request(port: int, n: int) -> bytes:
    return f"GET http://{LOCAL}:{port}/bytes/{n} HTTP/1.1\r\nHost: {LOCAL}:{port}\r\n\r\n".encode()


def forwarded_get(port: int, n: int) -> bytes:
    """What the proxy sends upstream for ``get``: origin form, same Host."""
    return f"GET /bytes/{n} HTTP/1.1\r\nHost: {LOCAL}:{port}\r\n\r\n".encode()


def timed_gets(handle: HasPort, origin_port: int, n: int, samples: int, *, new: bool) -> list[float]:
    """``samples`` GETs of an n-byte body, ms from send (or connect, if ``new``) to the last byte."""
    times: list[float] = []
    sock = connect(handle.port)
    buffer = bytearray()
    try:
        sock.sendall(get_request(origin_port, 16))  # warm the kept-alive connection (and the upstream)
        read_response(sock, buffer)
        for _ in range(samples):
            t0 = time.perf_counter()
            if new:
                sock.close()
                sock = connect(handle.port)
            sock.sendall(get_request(origin_port, n))
            status, _, body = read_response(sock, buffer)
            times.append((time.perf_counter() - t0) * 1000)
            assert status == 200 and len(body) == n
    finally:
        sock.close()
    return times


def model_ms(profile: NetworkProfile, origin: Origin, n: int, *, new: bool) -> float:
    return network_floor_ms(
        profile,
        n,
        request_bytes=len(forwarded_get(origin.port, n)),
        new_connection=new,
        response_head_bytes=len(response_head(n, origin.name)),
    )


def iqr(values: list[float]) -> float:
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def overhead_window(
    proxy_port: int, pids: list[int], origin: Origin, rate: int, seconds: float
) -> tuple[float, float, str]:
    """Direct and proxied 1 KB GETs interleaved, ``rate`` req/s each: (added p50, added p95, summary).

    ``pids``: the processes on the proxied path, whose CPU use the summary reports."""
    direct, proxied = connect(origin.port), connect(proxy_port)
    direct_buffer, proxied_buffer = bytearray(), bytearray()
    direct_request = forwarded_get(origin.port, 1024)
    proxied_request = get_request(origin.port, 1024)

    def one(sock: socket.socket, request: bytes, buffer: bytearray) -> float:
        t0 = time.perf_counter()
        sock.sendall(request)
        status, _, body = read_response(sock, buffer)
        elapsed = (time.perf_counter() - t0) * 1000
        assert status == 200 and len(body) == 1024
        return elapsed

    try:
        for _ in range(50):  # warm up both paths
            one(direct, direct_request, direct_buffer)
            one(proxied, proxied_request, proxied_buffer)
        times_direct: list[float] = []
        times_proxied: list[float] = []
        pairs = [
            (direct, direct_request, direct_buffer, times_direct),
            (proxied, proxied_request, proxied_buffer, times_proxied),
        ]
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            pause = start + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # pacing, not synchronisation
            for sock, request, buffer, times in pairs if i % 2 else pairs[::-1]:
                times.append(one(sock, request, buffer))
        wall = time.perf_counter() - start
        cpu = (sum(cpu_seconds(pid) for pid in pids) - cpu_before) / wall
    finally:
        direct.close()
        proxied.close()
    added_p50 = statistics.median(times_proxied) - statistics.median(times_direct)
    added_p95 = percentile(times_proxied, 95) - percentile(times_direct, 95)
    summary = (
        f"overhead at {rate} req/s: direct p50 {statistics.median(times_direct):.3f} p95 "
        f"{percentile(times_direct, 95):.3f} ms; proxied p50 {statistics.median(times_proxied):.3f} p95 "
        f"{percentile(times_proxied, 95):.3f} ms; added p50 {added_p50:.3f} p95 {added_p95:.3f} ms; "
        f"proxy CPU {cpu:.1%} of a core over {wall:.1f} s"
    )
    return added_p50, added_p95, summary


def make_tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (skips the test without the openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl CLI (nor the cryptography package) to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    args = ["req", "-x509", "-nodes", "-days", "1", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    args += ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={LOCAL}", "-addext", f"subjectAltName=IP:{LOCAL}"]
    subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)
    return cert, key
