"""Scenarios against the real demo backend: barrier bursts and head-of-line blocking, repeated logins."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.demo_target import DemoBackend
from tests.helpers import load_results, rehearse

pytestmark = pytest.mark.e2e

ENV = {"REHEARSE_DEMO_PASSWORD": "scenario-pw", "REHEARSE_PASSWORD": "scenario-pw"}

PROSPECTS = """
target: {base_url: "http://127.0.0.1:9"}
login: {username: prospect1@demo.example, password_env: REHEARSE_PASSWORD}
endpoints:
  - {name: dashboard, path: /api/dashboard, budget_ms: 1000}
  - {name: health, path: /healthz, auth: false}
scenarios:
  three_prospects: {k: 3, endpoint: dashboard, bystander: health, pause_s: 0.1}
run: {duration_s: 6, max_requests: 2000}
"""


def _prospects(tmp: Path, run_id: str, serialize: bool) -> dict:
    plan = tmp / "plan.yaml"
    plan.write_text(PROSPECTS)
    # a 100 ms dashboard makes the lock's effect far larger than scheduling noise on a shared machine
    with DemoBackend(
        password=ENV["REHEARSE_PASSWORD"],
        lazy_init_ms=0,
        slow_dashboard_ms=100,
        serialize_route="/api/dashboard" if serialize else None,
    ) as b:
        proc = rehearse("run", str(plan), "--base-url", b.url, "--out", str(tmp), "--run-id", run_id, env=ENV)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return load_results(tmp, run_id)


def test_head_of_line_flag_appears_with_the_lock_and_not_without(tmp_path: Path) -> None:
    locked = _prospects(tmp_path, "locked", serialize=True)
    free = _prospects(tmp_path, "free", serialize=False)
    (b_locked,) = locked["bursts"]
    (b_free,) = free["bursts"]
    assert b_locked["rounds"] >= 5 and b_free["rounds"] >= 5
    assert b_locked["head_of_line"] is True, b_locked
    assert "one after another" in b_locked["reason"]
    assert b_free["head_of_line"] is False, b_free
    # three requests queued behind one lock: the slowest waits for the other two
    assert b_locked["slowest_p50_ms"] >= 2.5 * b_locked["solo_p50_ms"]
    assert b_locked["spread_p50_ms"] >= 150
    # the barrier releases the k requests within a few ms of each other
    assert b_locked["send_skew_max_ms"] < 5.0
    assert b_free["send_skew_max_ms"] < 5.0


def test_repeated_logins_report_login_apart_from_pages(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        """
target: {base_url: "http://127.0.0.1:9"}
login: {username: founder@demo.example, password_env: REHEARSE_PASSWORD, budget_ms: 500}
endpoints:
  - {name: me, path: /api/me}
  - {name: dashboard, path: /api/dashboard}
scenarios:
  repeated_logins: {users: 2, pages: [me, dashboard], think_time_s: [0.05, 0.1]}
run: {duration_s: 5, max_requests: 2000}
"""
    )
    with DemoBackend(lazy_init_ms=0, password=ENV["REHEARSE_PASSWORD"]) as b:
        proc = rehearse("run", str(plan), "--base-url", b.url, "--out", str(tmp_path), "--run-id", "rl", env=ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    data = load_results(tmp_path, "rl")
    by_name = {e["name"]: e for e in data["endpoints"]}
    assert set(by_name) == {"login", "me", "dashboard"}
    login, me = by_name["login"], by_name["me"]
    assert login["method"] == "POST" and login["budget_ms"] == 500
    # every iteration is a fresh session: one login per page view of each kind
    assert abs(login["count"] - me["count"]) <= 2
    # password hashing makes login the slow part of reopening the app
    assert login["p50_ms"] > me["p50_ms"]
