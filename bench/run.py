"""`make bench`: side-by-side measurements, written to BENCHMARKS.md as ratios from one run.

Figures, not tests: the machines are shared and noisy, so every comparison alternates A and B in the same run and
reports medians. Needs nginx (Debian nginx-light; installed by `make bench` when missing, as root).

Throughput is counted by the server (nginx's stub_status, sampled four times a second), the same yardstick for
both tools. Each tool's own count is kept beside it: a Locust master only learns counts from worker reports every
3 s, so its count over an 8 s window covers 6 or 9 s of requests.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
USERS = int(os.environ.get("BENCH_USERS", "20"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """A static nginx on 127.0.0.1, one worker pinned to the last core (the load runs on core 0)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        (self.dir / "www").mkdir()
        (self.dir / "www" / "index.html").write_text("ok\n" * 8)
        cpus = os.cpu_count() or 1
        affinity = "1" + "0" * (cpus - 1) if cpus > 1 else "1"
        (self.dir / "nginx.conf").write_text(
            f"""
worker_processes 1;
worker_cpu_affinity {affinity};
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{self.port};
    root {self.dir}/www;
    location = /__status {{ stub_status; }}
  }}
}}
"""
        )
        self.proc = subprocess.Popen(["nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)])
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class ServerCount:
    """nginx's own request counter, sampled while one load runs; ``steady_rate()`` is its middle stretch."""

    def __init__(self, url: str) -> None:
        self.url = url + "/__status"
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ServerCount:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _poll(self) -> None:
        while not self._stop.is_set():
            with urllib.request.urlopen(self.url, timeout=5) as response:
                text = response.read().decode()
            self.samples.append((time.time(), int(text.splitlines()[2].split()[2])))
            self._stop.wait(0.25)

    def steady_rate(self) -> float:
        """Requests/s between 1.5 s after the load began and 0.5 s before it stopped (ramp and stop left out)."""
        spans = [(t1, t2, (n2 - n1) / (t2 - t1)) for (t1, n1), (t2, n2) in itertools.pairwise(self.samples)]
        peak = max(rate for _, _, rate in spans)
        active = [(t1, t2) for t1, t2, rate in spans if rate > 0.2 * peak]
        start, end = active[0][0] + 1.5, active[-1][1] - 0.5
        inside = [(t, n) for t, n in self.samples if start <= t <= end]
        (ta, na), (tb, nb) = inside[0], inside[-1]
        return (nb - na) / (tb - ta)


def run_json(cmd: list[str], pin: str | None = "0", timeout: float = 300) -> dict:
    if pin is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", pin, *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{cmd}: {proc.returncode}\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def counted(url: str, load: Callable[[], float]) -> tuple[float, float]:
    """(server-counted rate, the tool's own rate) of one load run; ``load()`` returns the tool's rate."""
    with ServerCount(url) as count:
        own = float(load())
    return count.steady_rate(), own


def single_core(url: str) -> dict:
    ours, raw, ours_own, raw_own = [], [], [], []
    args = [url, str(SECONDS), str(USERS)]
    for _ in range(ROUNDS):
        server, own = counted(url, lambda: run_json([PY, "bench/raw_locust.py", *args])["rps"])
        raw.append(server)
        raw_own.append(own)
        server, own = counted(url, lambda: run_json([PY, "bench/harness_load.py", *args])["rps"])
        ours.append(server)
        ours_own.append(own)
    return {
        "ours": ours, "raw": raw, "ours_own": ours_own, "raw_own": raw_own,
        "ratio": statistics.median(ours) / statistics.median(raw),
    }  # fmt: skip


def raw_workers(url: str, n: int) -> float:
    port = free_port()
    workers = [
        subprocess.Popen(
            [PY, "bench/raw_locust.py", url, "0", "0", "--worker", "127.0.0.1", str(port)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    try:
        return float(
            run_json(
                [PY, "bench/raw_locust.py", url, str(SECONDS), str(USERS), "--master", str(n), str(port)],
                pin=None,
            )["rps"]
        )
    finally:
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()


def our_workers(url: str, n: int) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="bench-w-"))
    plan = tmp / "plan.yaml"
    plan.write_text(
        f"target: {{base_url: '{url}'}}\n"
        "endpoints: [{name: root, path: /, auth: false}]\n"
        f"scenarios: {{demo_session: {{users: {USERS}, steps: [root], think_time_s: [0, 0]}}}}\n"
        f"run: {{duration_s: {SECONDS + 1}, max_requests: 100000000}}\n"
    )
    args = [PY, "-m", "harness", "run", str(plan), "--out", str(tmp), "--run-id", "b"]
    if n:
        args += ["--workers", str(n)]
    subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=300)
    data = json.loads((tmp / "b" / "results.json").read_text())
    shutil.rmtree(tmp, ignore_errors=True)
    # steady-state rate, measured like raw_locust.py (which skips its first second): the run's per-second
    # timeline buckets, summed over endpoints, without the ramp-up second and the last, partial one
    per_second: dict[float, int] = {}
    for e in data["endpoints"]:
        for b in e["timeline"]:
            per_second[b["t_s"]] = per_second.get(b["t_s"], 0) + b["count"]
    counts = [per_second[t] for t in sorted(per_second)][1:-1]
    return float(statistics.mean(counts)) if counts else 0.0


def multi_core(url: str) -> dict:
    n = os.cpu_count() or 2
    ours_n, raw_n, ours_1, raw_1 = [], [], [], []
    own: dict[str, list[float]] = {"ours_n": [], "raw_n": [], "ours_1": [], "raw_1": []}
    for _ in range(ROUNDS):
        for key, runs, load, k in (
            ("raw_n", raw_n, raw_workers, n),
            ("ours_n", ours_n, our_workers, n),
            ("raw_1", raw_1, raw_workers, 1),
            ("ours_1", ours_1, our_workers, 1),
        ):
            server, reported = counted(url, lambda load=load, k=k: load(url, k))
            runs.append(server)
            own[key].append(reported)
    m = statistics.median
    return {
        "n": n,
        "own": own,
        "ours_n": ours_n,
        "raw_n": raw_n,
        "ours_1": ours_1,
        "raw_1": raw_1,
        "ratio": m(ours_n) / m(raw_n),
        "scaling_ours": m(ours_n) / m(ours_1),
        "scaling_raw": m(raw_n) / m(raw_1),
    }


def percentile_error() -> dict:
    return run_json([PY, "bench/percentile_error.py"], pin=None)


def rss_growth() -> dict:
    return run_json([PY, "bench/rss_growth.py"], pin=None)


def stall() -> dict:
    return run_json([PY, "bench/stall.py"], pin=None)


def report_render() -> dict:
    proc = subprocess.run([PY, "tests/bench_report.py"], capture_output=True, text=True, cwd=REPO, timeout=300)
    return {"output": proc.stdout.strip()[-600:], "ok": proc.returncode == 0}


def main() -> int:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    nginx = Nginx()
    try:
        one = single_core(nginx.url)
        many = multi_core(nginx.url)
    finally:
        nginx.stop()
    pct = percentile_error()
    rss = rss_growth()
    st = stall()
    rep = report_render()
    m = statistics.median
    lo, hi = st["truth_p95"]
    mid = (lo + hi) / 2
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {started} ({platform.platform()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}). Each comparison alternates A and B in one run ({ROUNDS} rounds of "
        f"{SECONDS:.0f} s, {USERS} users, static nginx on 127.0.0.1); figures are medians of the rates nginx itself "
        "counted. Shared, noisy machine: read ratios, not absolute numbers.",
        "",
        "| measure | ours | reference | ratio | goal |",
        "|---|---|---|---|---|",
        f"| throughput on one core, all accounting on ÷ raw Locust FastHttpUser | {m(one['ours']):,.0f} req/s "
        f"| {m(one['raw']):,.0f} req/s | **{one['ratio']:.3f}** | ≥ 0.95 |",
        f"| {many['n']} workers ÷ raw Locust with {many['n']} worker processes | {m(many['ours_n']):,.0f} req/s "
        f"| {m(many['raw_n']):,.0f} req/s | **{many['ratio']:.3f}** | ≥ 0.95 |",
        f"| scaling 1 → {many['n']} workers | {many['scaling_ours']:.2f}× | raw Locust {many['scaling_raw']:.2f}× "
        f"| {many['scaling_ours'] / many['scaling_raw']:.3f} | (target shares the cores) |",
    ]
    for p in ("50", "95", "99", "99.9"):
        lines.append(
            f"| percentile error p{p}, 1 M lognormal samples | {pct['ours'][p]:.4%} | Locust StatsEntry "
            f"{pct['locust'][p]:.4%} | | ≤ 0.1 % |"
        )
    lines += [
        f"| RSS growth per million recorded requests | {rss['mib_per_million']:.2f} MiB | | | ≤ 5 MiB |",
        f"| stall server (1 s every 5 s), p95: corrected vs truth | {st['corrected_p95']:.0f} ms | truth "
        f"{lo:.0f}–{hi:.0f} ms | {st['corrected_p95'] / mid:.3f} of mid-band | within 5 % |",
        f"| stall server, p95: naive (service time) vs truth | {st['naive_p95']:.1f} ms | truth "
        f"{lo:.0f}–{hi:.0f} ms | {st['naive_p95'] / mid:.3f} | (what closed-loop tools report) |",
        "",
        "Raw samples (req/s, counted by the server): "
        f"one core ours {[round(x) for x in one['ours']]}, raw {[round(x) for x in one['raw']]}; "
        f"{many['n']} workers ours {[round(x) for x in many['ours_n']]}, raw {[round(x) for x in many['raw_n']]}; "
        f"1 worker ours {[round(x) for x in many['ours_1']]}, raw {[round(x) for x in many['raw_1']]}.",
        "",
        "The same runs as each tool counted them (req/s): "
        f"one core ours {[round(x) for x in one['ours_own']]}, raw {[round(x) for x in one['raw_own']]}; "
        f"{many['n']} workers ours {[round(x) for x in many['own']['ours_n']]}, raw "
        f"{[round(x) for x in many['own']['raw_n']]}; 1 worker ours {[round(x) for x in many['own']['ours_1']]}, "
        f"raw {[round(x) for x in many['own']['raw_1']]}.",
        "",
        "Report rendering (50 endpoints × 4 profiles fixture):",
        "",
        "```",
        rep["output"],
        "```",
        "",
    ]
    notes = Path(REPO / "bench" / "NOTES.md")
    if notes.exists():
        lines += [notes.read_text()]
    (REPO / "BENCHMARKS.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sys.exit(main())
