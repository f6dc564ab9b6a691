"""Distributed load on Locust's own master/worker runners: worker histograms merge at the master exactly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, load_results, rehearse
from tests.servers import DistributionServer

pytestmark = pytest.mark.e2e


def test_two_local_workers_share_the_schedule_and_merge(tmp_path: Path) -> None:
    server = DistributionServer()
    url = server.start()
    try:
        plan = tmp_path / "plan.yaml"
        plan.write_text(
            "target: {base_url: 'http://127.0.0.1:9'}\n"
            "endpoints: [{name: fast, path: /fast, auth: false}, {name: dist, path: /dist, auth: false}]\n"
            "scenarios: {steady: {rates: {fast: 60, dist: 20}, users: 6}}\n"
            "run: {duration_s: 5, max_requests: 5000}\n"
        )
        proc = rehearse("run", str(plan), "--base-url", url, "--workers", "2", "--out", str(tmp_path), "--run-id", "w")
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    data = load_results(tmp_path, "w")
    by_name = {e["name"]: e for e in data["endpoints"]}
    # each worker runs half the rate; together they send the plan's rate, and every sample reaches the master
    fast_total = by_name["fast"]["count"] + 1 + by_name["fast"]["dropped"]
    assert 0.95 * 300 <= fast_total <= 1.05 * 300 + 2, by_name["fast"]
    dist_total = by_name["dist"]["count"] + 1 + by_name["dist"]["dropped"]
    assert 0.95 * 100 <= dist_total <= 1.05 * 100 + 2, by_name["dist"]
    assert by_name["dist"]["p50_ms"] > 10 * by_name["fast"]["p50_ms"]
    assert data["settings"]["workers"] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_TWO_PROFILES = """
target: {base_url: 'http://127.0.0.1:9'}
endpoints: [{name: fast, path: /fast, auth: false}]
scenarios: {demo_session: {users: 2, steps: [fast], think_time_s: [0.02, 0.05]}}
run: {duration_s: 3, max_requests: 5000}
profiles: [direct, {name: link-80ms, rtt_ms: 80}]
"""


def _start_worker(plan: Path, url: str, master_port: int) -> subprocess.Popen[str]:
    """A ``--worker`` process, as on another machine: it serves every phase of ``plan`` for the master."""
    argv = [sys.executable, "-m", "harness", "run", str(plan), "--base-url", url, "--worker"]
    return subprocess.Popen(
        [*argv, "--master-host", "127.0.0.1", "--master-port", str(master_port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _master_and_worker(tmp_path: Path, url: str, worker_plan: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(_TWO_PROFILES)
    port = _free_port()
    worker = _start_worker(worker_plan, url, port)
    try:
        master = rehearse(
            "run", str(plan), "--base-url", url, "--master", "--expect-workers", "1",
            "--master-bind", f"127.0.0.1:{port}", "--out", str(tmp_path), "--run-id", "m",
        )  # fmt: skip
        worker_out, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    return master, worker_out


def test_a_worker_on_another_machine_runs_every_profile_and_shapes_its_own_traffic(tmp_path: Path) -> None:
    server = DistributionServer()
    url = server.start()
    try:
        master, worker_out = _master_and_worker(tmp_path, url, tmp_path / "plan.yaml")
    finally:
        server.stop()
    assert master.returncode == 0, master.stdout + master.stderr[-3000:] + worker_out[-2000:]
    data = load_results(tmp_path, "m")
    rows = {e["profile"]: e for e in data["endpoints"] if e["name"] == "fast"}
    assert rows["direct"]["count"] > 20 and rows["link-80ms"]["count"] > 10, rows
    # the worker's own shaping proxy delayed its requests: the master never saw these packets
    assert rows["link-80ms"]["p50_ms"] >= 80 * 0.97 > 10 * rows["direct"]["p50_ms"]
    assert data["network"]["backend"] == "proxy"  # as the worker reported it in its reports


def test_a_worker_with_another_plan_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(_TWO_PROFILES + "# edited on one machine only\n")
    server = DistributionServer()
    url = server.start()
    try:
        master, _ = _master_and_worker(tmp_path, url, other)
    finally:
        server.stop()
    assert master.returncode == 3, master.stdout + master.stderr[-3000:]
    data = load_results(tmp_path, "m")
    assert data["status"] == "partial"
    assert any("runs a different plan file than the master" in n for n in data["notices"]), data["notices"]


def test_ctrl_c_on_a_worker_ships_what_it_measured_before_it_leaves(tmp_path: Path) -> None:
    server = DistributionServer()
    url = server.start()
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "target: {base_url: 'http://127.0.0.1:9'}\n"
        "endpoints: [{name: dist, path: /dist, auth: false}]\n"
        "scenarios: {demo_session: {users: 2, steps: [dist], think_time_s: [0, 0]}}\n"
        "run: {duration_s: 8, max_requests: 5000}\n"
    )
    port = _free_port()
    worker = _start_worker(plan, url, port)
    master_argv = [sys.executable, "-m", "harness", "run", str(plan), "--base-url", url, "--master"]
    master_argv += ["--expect-workers", "1", "--master-bind", f"127.0.0.1:{port}"]
    master = subprocess.Popen(
        [*master_argv, "--out", str(tmp_path), "--run-id", "c"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(server.applied) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the server's own count: the interrupt lands mid-load, before a 3 s report
        worker.send_signal(signal.SIGINT)
        worker_out, _ = worker.communicate(timeout=30)
        served = len(server.applied)  # the worker is gone: nothing more reaches the server
        master_out, master_err = master.communicate(timeout=60)
    finally:
        for proc in (worker, master):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        server.stop()
    assert worker.returncode == 3 and "interrupted" in worker_out, worker_out[-2000:]
    assert master.returncode == 0, master_out + master_err[-2000:]
    recorded = load_results(tmp_path, "c")["settings"]["requests"]
    # everything the worker got an answer for reached the master; only the two users' in-flight requests may be cut
    assert served - 2 <= recorded <= served, (recorded, served)
