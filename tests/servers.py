"""Real HTTP servers on 127.0.0.1 with known behaviour, for accuracy tests and benchmarks.

- ``DistributionServer``: each response is delayed by the next value of a seeded lognormal sequence; the server
  keeps the delays it actually applied, so the truth is known exactly.
- ``StallServer``: answers at once, except that it stalls completely for S ms every T s (anchored to its first
  request), so the truth for an open-model load follows from the stall schedule.
"""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler that answers with JSON."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: without this, delayed ACKs add ~40 ms

    def reply_json(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Handler(JsonHandler):
    server: Any

    def do_GET(self) -> None:
        self.server.behave(self)
        # /status/NNN answers with that status, so tests can see failures counted and named
        status = int(self.path.split("/")[2]) if self.path.startswith("/status/") else 200
        self.reply_json(status, b'{"ok": true}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def behave(self, handler: BaseHTTPRequestHandler) -> None:
        pass


class _Running:
    server: _Server

    def start(self) -> str:
        self.server.RequestHandlerClass = _Handler
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DistributionServer(_Running):
    def __init__(self, median_ms: float = 40.0, sigma: float = 0.5, seed: int = 11) -> None:
        rng = random.Random(seed)
        lock = threading.Lock()
        applied: list[float] = []
        self.applied = applied

        class S(_Server):
            def behave(self, handler: BaseHTTPRequestHandler) -> None:
                if handler.path.startswith("/fast"):
                    return
                with lock:
                    delay = median_ms * rng.lognormvariate(0, sigma)
                    applied.append(delay)
                deadline = time.perf_counter() + delay / 1000.0
                while (left := deadline - time.perf_counter()) > 0:
                    time.sleep(min(left, 0.002) if left > 0.002 else 0)

        self.server = S(("127.0.0.1", 0), _Handler)


class StallServer(_Running):
    def __init__(self, stall_ms: float = 1000.0, every_s: float = 5.0, first_stall_after_s: float = 1.0) -> None:
        self.stall_s = stall_ms / 1000.0
        self.every_s = every_s
        self.first_after = first_stall_after_s
        self.t0: float | None = None
        lock = threading.Lock()
        outer = self

        class S(_Server):
            def behave(self, handler: BaseHTTPRequestHandler) -> None:
                now = time.monotonic()
                with lock:
                    if outer.t0 is None:
                        outer.t0 = now
                end = outer.stall_end(now)
                if end is not None:
                    time.sleep(max(0.0, end - time.monotonic()))

        self.server = S(("127.0.0.1", 0), _Handler)

    def stall_end(self, now: float) -> float | None:
        assert self.t0 is not None
        phase = (now - self.t0 - self.first_after) % self.every_s
        if now - self.t0 >= self.first_after and phase < self.stall_s:
            return now + (self.stall_s - phase)
        return None

    def wait_s(self, since_t0: float) -> float:
        """How long a request arriving ``since_t0`` seconds after the first one waits for the stall to end."""
        if since_t0 < self.first_after:
            return 0.0
        phase = (since_t0 - self.first_after) % self.every_s
        return self.stall_s - phase if phase < self.stall_s else 0.0

    def true_percentile_ms(
        self, p: float, rate: float, slots: int, base_ms: float = 0.0, phase_s: float = 0.0
    ) -> float:
        """The truth for an open-model load of ``rate`` req/s: slot k arrives ``phase_s + k / rate`` after the
        first request and, timed from its intended start, takes its stall wait plus the base time. Slots 1..slots
        (slot 0 is the run's first request, kept apart); HdrHistogram's percentile rank."""
        values = sorted(self.wait_s(phase_s + k / rate) * 1000.0 + base_ms for k in range(1, slots + 1))
        return values[max(0, int(p / 100.0 * len(values) + 0.5) - 1)]

    def true_percentile_band_ms(self, p: float, rate: float, slots: int, base_ms: float = 0.0) -> tuple[float, float]:
        """Where the slots fall against the stall windows depends on a phase under one slot spacing that the
        client cannot see (the first request's own latency shifts the server's anchor): the truth over all
        such phases, lowest and highest."""
        spacing = 1.0 / rate
        truths = [self.true_percentile_ms(p, rate, slots, base_ms, phase_s=-spacing * i / 20) for i in range(20)]
        return min(truths), max(truths)
