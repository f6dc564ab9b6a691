"""Failures are counted per endpoint and kind, and judged against all requests sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_results, rehearse
from tests.servers import DistributionServer

pytestmark = pytest.mark.e2e


def test_failures_counted_by_kind_and_breach_the_error_budget(tmp_path: Path) -> None:
    server = DistributionServer()
    url = server.start()
    try:
        plan = tmp_path / "plan.yaml"
        plan.write_text(
            "target: {base_url: 'http://127.0.0.1:9'}\n"
            "endpoints:\n"
            "  - {name: broken, path: /status/500, auth: false}\n"
            "  - {name: created, path: /fast, auth: false, expect_status: [201]}\n"
            "  - {name: fine, path: /fast, auth: false}\n"
            "scenarios: {steady: {rates: {broken: 10, created: 10, fine: 10}, users: 3}}\n"
            "run: {duration_s: 3, max_requests: 1000}\n"
        )
        proc = rehearse("run", str(plan), "--base-url", url, "--out", str(tmp_path), "--run-id", "e")
    finally:
        server.stop()
    assert proc.returncode == 1, proc.stderr[-2000:]
    data = load_results(tmp_path, "e")
    rows = {e["name"]: e for e in data["endpoints"]}
    broken, created, fine = rows["broken"], rows["created"], rows["fine"]
    assert broken["requests"] >= 25 and broken["errors"] == broken["requests"]
    assert broken["error_kinds"] == {"HTTP 500": broken["requests"]}
    # a 200 where the plan expects 201 is a failure too, named by the status that came back
    assert created["errors"] == created["requests"] and "HTTP 200" in created["error_kinds"]
    assert fine["errors"] == 0
    breached = {(b["endpoint"], b["metric"]) for b in data["verdict"]["breaches"]}
    assert ("broken", "error_rate") in breached and ("fine", "error_rate") not in breached
    assert "100.0% of" in proc.stdout
    kinds = {(e["endpoint"], e["kind"]) for e in data["errors"]}
    assert ("broken", "HTTP 500") in kinds


def test_nightly_baseline_catches_a_slower_target(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "target: {base_url: 'http://127.0.0.1:9'}\n"
        "endpoints: [{name: dist, path: /dist, auth: false}]\n"
        "scenarios: {steady: {rates: {dist: 20}, users: 4}}\n"
        "run: {duration_s: 3, max_requests: 1000}\n"
    )
    for run_id, median in (("fast", 5.0), ("slow", 50.0)):
        server = DistributionServer(median_ms=median, sigma=0.2)
        url = server.start()
        try:
            args = ["run", str(plan), "--base-url", url, "--out", str(tmp_path), "--run-id", run_id]
            if run_id == "slow":
                args += ["--baseline", str(tmp_path / "fast" / "results.json")]
            proc = rehearse(*args)
        finally:
            server.stop()
    assert proc.returncode == 1, proc.stdout + proc.stderr[-1000:]
    compare_md = (tmp_path / "slow" / "compare.md").read_text()
    assert "REGRESSED" in compare_md and "dist" in compare_md
    history = (tmp_path / "history.jsonl").read_text().splitlines()
    assert len(history) == 2
