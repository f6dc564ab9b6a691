"""Network profiles in a real run: the load goes through the shaping proxy, per-profile figures, floors, budgets."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.demo_target import DemoBackend
from tests.helpers import load_results, rehearse

pytestmark = pytest.mark.e2e

ENV = {"REHEARSE_DEMO_PASSWORD": "profile-pw", "REHEARSE_PASSWORD": "profile-pw"}


def test_two_profiles_in_one_run_with_their_own_budgets(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        """
target: {base_url: "http://127.0.0.1:9"}
login: {username: founder@demo.example, password_env: REHEARSE_PASSWORD}
endpoints:
  - {name: dashboard, path: /api/dashboard}
  - {name: health, path: /healthz, auth: false}
scenarios:
  demo_session: {users: 2, steps: [dashboard, health], think_time_s: [0.05, 0.1]}
run: {duration_s: 5, max_requests: 3000}
profiles:
  - direct
  - {name: slow-link, rtt_ms: 100, down_kbit: 2000, up_kbit: 2000, budget_ms: 400}
"""
    )
    with DemoBackend(lazy_init_ms=0, password=ENV["REHEARSE_PASSWORD"]) as backend:
        proc = rehearse("run", str(plan), "--base-url", backend.url, "--out", str(tmp_path), "--run-id", "p", env=ENV)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    data = load_results(tmp_path, "p")
    rows = {(e["name"], e["profile"]): e for e in data["endpoints"] if e["count"]}
    assert {("dashboard", "direct"), ("dashboard", "slow-link"), ("health", "slow-link")} <= set(rows)
    direct, slow = rows[("health", "direct")], rows[("health", "slow-link")]
    assert direct["floor_ms"] is None  # nothing to model on an unshaped link
    assert slow["budget_ms"] == 400.0 and direct["budget_ms"] == 300.0
    # kept-alive request on a 100 ms link: one RTT plus a few bytes at 2 Mbit/s
    assert 100.0 <= slow["floor_ms"] < 110.0
    # the floor assumes ~300 B of request and 200 B of response headers; real ones may be a little smaller
    assert slow["p50_ms"] >= slow["floor_ms"] * 0.97
    assert slow["p50_ms"] <= slow["floor_ms"] * 1.10 + 5.0
    assert slow["p50_ms"] > 10 * direct["p50_ms"]
    assert data["network"]["backend"] == "proxy"
    assert [p["name"] for p in data["network"]["profiles"]] == ["direct", "slow-link"]
    assert data["verdict"]["passed"] is True and proc.returncode == 0
