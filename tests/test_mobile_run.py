"""Mobile flows inside a rehearsal (before and while the load runs) and alone, through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.demo_target import DemoBackend
from tests.helpers import REPO, load_results, rehearse

pytestmark = [pytest.mark.e2e, pytest.mark.mobile]

if not Path("/usr/bin/chromium").exists() or not (REPO / ".appium" / "node_modules").exists():
    pytest.skip("needs Debian chromium and the Appium install (scripts/setup_mobile.sh)", allow_module_level=True)

ENV = {
    "REHEARSE_DEMO_PASSWORD": "mobile-run-pw",
    "REHEARSE_PASSWORD": "mobile-run-pw",
    "REHEARSE_USER": "sales@demo.example",
}


def _plan(tmp: Path, duration: int, with_load: bool = True, profiles: str = "[direct]") -> Path:
    demo = (REPO / "scenarios" / "plans" / "demo.yaml").read_text()
    head = demo.split("endpoints:")[0]
    mobile = "mobile:" + demo.split("\nmobile:", 1)[1]
    body = (
        head
        + "endpoints:\n  - {name: dashboard, path: /api/dashboard}\n  - {name: health, path: /healthz, auth: false}\n"
        + "scenarios:\n  demo_session: {users: 2, steps: [dashboard, health], think_time_s: [0.1, 0.2]}\n"
        + f"run: {{duration_s: {duration}, max_requests: 5000}}\nprofiles: {profiles}\n"
        + mobile
    )
    if not with_load:
        body = body.replace("demo_session: {users: 2", "demo_session: {users: 1")
    path = tmp / "plan.yaml"
    path.write_text(body)
    return path


def test_flows_run_before_and_while_the_load_runs_on_each_profile(tmp_path: Path) -> None:
    slow = "{name: slow-link, rtt_ms: 300, down_kbit: 4000, up_kbit: 2000, budget_ms: 2000}"
    plan = _plan(tmp_path, duration=8, profiles=f"[direct, {slow}]")
    with DemoBackend(lazy_init_ms=0, password=ENV["REHEARSE_PASSWORD"]) as backend:
        proc = rehearse("run", str(plan), "--base-url", backend.url, "--out", str(tmp_path), "--run-id", "m", env=ENV)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    data = load_results(tmp_path, "m")
    flows = data["mobile"]
    assert [(f["phase"], f["profile"]) for f in flows] == [
        ("baseline", "direct"),
        ("under_load", "direct"),
        ("under_load", "slow-link"),
    ], flows
    took = [{s["name"]: s["duration_ms"] for s in f["steps"]} for f in flows]
    # the slow link's flow ran under its own network conditions: every step makes at least one request, so each
    # pays at least one 300 ms round trip (step against step, the load's contention differs between the phases)
    assert all(ms >= 300 for ms in took[2].values()), took
    assert sum(took[2].values()) > sum(took[1].values()) + 2 * 300, took
    for flow in flows:
        assert flow["passed"] is True, flow
        assert [s["name"] for s in flow["steps"]] == ["app_open", "login", "dashboard", "write"]
        assert all(s["duration_ms"] > 0 and s["passed"] for s in flow["steps"])
        final = tmp_path / "m" / flow["final_screenshot"]
        assert final.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert proc.returncode == 0, proc.stdout
    text = (tmp_path / "m" / "results.json").read_text() + (tmp_path / "m" / "report.html").read_text()
    assert "mobile-run-pw" not in text
    junit = (tmp_path / "m" / "junit.xml").read_text()
    assert "mobile." in junit


def test_slow_dashboard_fails_its_budget_and_exits_1(tmp_path: Path) -> None:
    plan = _plan(tmp_path, duration=5, with_load=False)
    with DemoBackend(lazy_init_ms=0, slow_dashboard_ms=3500, password=ENV["REHEARSE_PASSWORD"]) as backend:
        proc = rehearse("mobile", str(plan), "--base-url", backend.url, "--out", str(tmp_path), env=ENV)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    data = json.loads((run_dir / "results.json").read_text())
    (flow,) = data["mobile"]
    assert flow["passed"] is False
    dash = {s["name"]: s for s in flow["steps"]}["dashboard"]
    assert dash["passed"] is False and dash["duration_ms"] > dash["budget_ms"] == 3000
    assert (run_dir / dash["screenshot"]).read_bytes()[:4] == b"\x89PNG"
    assert any(b["metric"] == "mobile_step" for b in data["verdict"]["breaches"])
    assert shutil.which("true")  # the report of a mobile-only run renders too
    assert (run_dir / "report.html").exists()
