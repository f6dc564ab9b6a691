"""End to end: the real demo backend on 127.0.0.1, the real CLI, Locust, HDR, results.json and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.demo_target import DemoBackend
from tests.helpers import REPO, load_results, rehearse

pytestmark = pytest.mark.e2e

PLAN = """
target: {base_url: "http://127.0.0.1:9"}
login: {username: founder@demo.example, password_env: REHEARSE_PASSWORD}
endpoints:
  - {name: me, path: /api/me}
  - {name: dashboard, path: /api/dashboard}
  - {name: jobs, path: "/api/jobs?page=1&per_page=20"}
  - {name: create_job, method: POST, path: /api/jobs, expect_status: [201],
     json: {title: e2e, client_id: 1, client_ref: "e2e-{uuid}"}}
  - {name: revenue, path: /api/reports/revenue}
  - {name: health, path: /healthz, auth: false}
scenarios:
  repeated_logins: {users: 1, pages: [me], think_time_s: [0.1, 0.2]}
  demo_session: {users: 2, steps: [dashboard, jobs, create_job, revenue], think_time_s: [0.05, 0.1]}
  steady: {rates: {health: 10}, users: 3}
run: {duration_s: 12, max_requests: 5000, warmup_s: 2}
"""


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, Path, str]:
    tmp = tmp_path_factory.mktemp("e2e")
    plan = tmp / "plan.yaml"
    plan.write_text(PLAN)
    env = {"REHEARSE_DEMO_PASSWORD": "e2e-secret-pw", "REHEARSE_PASSWORD": "e2e-secret-pw"}
    with DemoBackend(password="e2e-secret-pw") as backend:
        proc = rehearse("run", str(plan), "--base-url", backend.url, "--out", str(tmp), "--run-id", "r1", env=env)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc.returncode, load_results(tmp, "r1"), tmp / "r1", proc.stdout


def test_every_endpoint_measured_and_verdict_correct(demo_run: tuple[int, dict, Path, str]) -> None:
    code, data, _, stdout = demo_run
    assert data["schema_version"] == 1
    assert data["status"] == "complete"
    names = {e["name"] for e in data["endpoints"]}
    assert {"login", "me", "dashboard", "jobs", "create_job", "revenue", "health"} <= names
    for name in names:
        # an endpoint seen only in warm-up (a steady user's one login) has no steady-state samples
        assert sum(e["count"] for e in data["endpoints"] if e["name"] == name) > 0, name
    for e in data["endpoints"]:
        if e["count"]:
            assert e["p95_ms"] > 0, e["name"]
            assert e["hdr"], e["name"]
            assert e["p50_ms"] <= e["p95_ms"] <= e["p99_ms"] <= e["max_ms"]
    revenue = [e for e in data["endpoints"] if e["name"] == "revenue"]
    health = [e for e in data["endpoints"] if e["name"] == "health"]
    assert all(e["p95_ms"] > e["budget_ms"] for e in revenue)
    assert all(e["p95_ms"] <= e["budget_ms"] for e in health)
    breached = {b["endpoint"] for b in data["verdict"]["breaches"]}
    assert "revenue" in breached and "health" not in breached
    assert data["verdict"]["passed"] is False
    assert code == 1  # budget breached
    assert "Verdict: NO-GO" in stdout


def test_outputs_written_and_no_secret_anywhere(demo_run: tuple[int, dict, Path, str]) -> None:
    _, _, run_dir, stdout = demo_run
    for name in ("results.json", "report.html", "summary.md", "junit.xml"):
        text = (run_dir / name).read_text()
        assert "e2e-secret-pw" not in text, name
    assert "e2e-secret-pw" not in stdout
    html = (run_dir / "report.html").read_text()
    assert "NO-GO" in html and "/api/reports/revenue" in html


def test_cold_start_of_lazy_init_is_found(demo_run: tuple[int, dict, Path, str]) -> None:
    _, data, _, _ = demo_run
    flagged = [c for c in data["cold_starts"] if c["flagged"]]
    assert flagged, data["cold_starts"]
    assert max(c["first_ms"] for c in flagged) >= 800  # the backend's ~1 s lazy initialisation


def test_report_rerenders_from_saved_results(demo_run: tuple[int, dict, Path, str], tmp_path: Path) -> None:
    _, data, run_dir, _ = demo_run
    proc = rehearse("report", str(run_dir / "results.json"), "--out", str(tmp_path))
    assert proc.returncode == 1  # the saved verdict is NO-GO
    assert (tmp_path / "report.html").exists()
    assert json.loads((run_dir / "results.json").read_text())["run_id"] == data["run_id"]


def test_request_cap_bounds_the_run(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    env = {"REHEARSE_PASSWORD": "e2e-secret-pw", "REHEARSE_DEMO_PASSWORD": "e2e-secret-pw"}
    with DemoBackend(lazy_init_ms=0, password="e2e-secret-pw") as backend:
        proc = rehearse(
            "run",
            str(plan),
            "--base-url",
            backend.url,
            "--out",
            str(tmp_path),
            "--run-id",
            "cap",
            "--max-requests",
            "60",
            "--duration",
            "30",
            env=env,
        )
    data = load_results(tmp_path, "cap")
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert 60 <= data["settings"]["requests"] < 120  # in-flight requests finish; nothing new starts
    assert REPO.exists()


def test_no_cold_start_flagged_without_lazy_init_and_idle_probe_runs(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        PLAN.replace("warmup_s: 2}", "warmup_s: 2, idle_probe_s: 1}").replace("duration_s: 12", "duration_s: 6")
    )
    env = {"REHEARSE_PASSWORD": "e2e-secret-pw", "REHEARSE_DEMO_PASSWORD": "e2e-secret-pw"}
    with DemoBackend(lazy_init_ms=0, password="e2e-secret-pw") as backend:
        proc = rehearse(
            "run", str(plan), "--base-url", backend.url, "--out", str(tmp_path), "--run-id", "warm", env=env
        )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    data = load_results(tmp_path, "warm")
    deploy = [c for c in data["cold_starts"] if c["kind"] == "deploy"]
    idle = [c for c in data["cold_starts"] if c["kind"] == "idle"]
    assert deploy and not [c for c in deploy if c["flagged"]], deploy
    # the probe times each safe endpoint once after the idle spell, and never sends the write
    assert {c["endpoint"] for c in idle} >= {"me", "dashboard", "health"}
    assert "create_job" not in {c["endpoint"] for c in idle}
    assert all(c["first_ms"] > 0 for c in idle)
