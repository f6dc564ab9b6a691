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
