"""Ctrl-C keeps what was measured: a partial results.json and report, exit code 3, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, load_results
from tests.servers import DistributionServer

pytestmark = pytest.mark.e2e


def test_ctrl_c_writes_a_partial_report(tmp_path: Path) -> None:
    server = DistributionServer(median_ms=5.0, sigma=0.2)
    url = server.start()
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "target: {base_url: 'http://127.0.0.1:9'}\n"
        "endpoints: [{name: dist, path: /dist, auth: false}]\n"
        "scenarios: {steady: {rates: {dist: 50}, users: 4}}\n"
        "run: {duration_s: 120, max_requests: 100000}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(plan), "--base-url", url, "--out", str(tmp_path), "--run-id", "i"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        # wait for the server to have answered real load (an observable event, bounded), then press Ctrl-C
        deadline = time.monotonic() + 60
        while len(server.applied) < 100 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert len(server.applied) >= 100
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
    assert "Traceback" not in err, err[-2000:]
    assert proc.returncode == 3
    data = load_results(tmp_path, "i")
    assert data["status"] == "partial"
    assert data["verdict"]["passed"] is False
    (e,) = data["endpoints"]
    assert e["count"] >= 99
    assert (tmp_path / "i" / "report.html").exists()
    assert "partial" in out
