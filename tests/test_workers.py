"""Distributed load on Locust's own master/worker runners: worker histograms merge at the master exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_results, rehearse
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
