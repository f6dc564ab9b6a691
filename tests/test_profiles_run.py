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


def test_auto_backend_uses_netem_where_the_kernel_has_it_else_says_why(tmp_path: Path) -> None:
    from harness.network.netem import detect_netem

    available, reason = detect_netem()
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        """
target: {base_url: "http://127.0.0.1:9"}
endpoints:
  - {name: health, path: /healthz, auth: false}
scenarios:
  demo_session: {users: 2, steps: [health], think_time_s: [0.05, 0.1]}
run: {duration_s: 3, max_requests: 1000, network_backend: auto}
profiles:
  - {name: link-60ms, rtt_ms: 60, down_kbit: 5000, up_kbit: 5000}
"""
    )
    with DemoBackend(lazy_init_ms=0, password=ENV["REHEARSE_PASSWORD"]) as backend:
        proc = rehearse("run", str(plan), "--base-url", backend.url, "--out", str(tmp_path), "--run-id", "a", env=ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = load_results(tmp_path, "a")
    health = next(e for e in data["endpoints"] if e["name"] == "health" and e["count"])
    assert 60.0 <= health["floor_ms"] < 65.0
    assert health["p50_ms"] >= health["floor_ms"] * 0.97  # shaped by whichever backend ran
    if available:
        assert data["network"]["backend"] == "netem" and not data["network"]["notice"]
    else:
        print(f"auto backend fell back to the proxy: {reason}")
        assert data["network"]["backend"] == "proxy"
        assert reason in data["network"]["notice"] and reason in proc.stdout + proc.stderr
