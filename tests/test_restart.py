"""``rehearse run --fresh-target``: the plan's restart command, readiness polling, and the cold starts after it."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import load_results, rehearse
from tests.servers import JsonHandler

COLD_S = 0.5  # what the first request to a path costs after a restart (a real sleep in the server)
UNREADY_S = 0.3  # how long /healthz answers 503 after a restart


class _Handler(JsonHandler):
    server: _Restartable

    def do_POST(self) -> None:
        if self.path != "/__restart":
            self._reply(404)
            return
        self.server.restart()
        self._reply(200)

    def do_GET(self) -> None:
        srv = self.server
        now = time.monotonic()
        if now < srv.ready_at:
            self._reply(503)
            return
        if self.path != "/api/orders":
            self._reply(200 if self.path == "/healthz" else 404)
            return
        with srv.lock:
            cold = self.path not in srv.warm
            srv.warm.add(self.path)
            srv.first_load_at = srv.first_load_at or now
        if cold:
            time.sleep(COLD_S)  # the server's own lazy initialisation
        self._reply(200)

    def _reply(self, status: int) -> None:
        self.reply_json(status, json.dumps({"ok": status == 200}).encode())


class _Restartable(ThreadingHTTPServer):
    """A target whose restart (POST /__restart) makes it briefly unready and its paths cold again."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.warm: set[str] = {"/api/orders"}  # warm before the restart
        self.ready_at = 0.0
        self.restarts = 0
        self.restarted_at = 0.0
        self.first_load_at = 0.0

    def restart(self) -> None:
        with self.lock:
            self.restarts += 1
            self.warm.clear()
            self.restarted_at = time.monotonic()
            self.ready_at = self.restarted_at + UNREADY_S
            self.first_load_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def target() -> Iterator[_Restartable]:
    server = _Restartable()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _plan(tmp_path: Path, url: str, restart: str) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"""
target:
  base_url: "{url}"
{restart}
endpoints:
  - {{name: orders, path: /api/orders, auth: false}}
scenarios:
  demo_session: {{users: 2, steps: [orders], think_time_s: [0.05, 0.1]}}
run: {{duration_s: 2, max_requests: 500}}
"""
    )
    return plan


_POST = "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], method='POST'))"


def test_fresh_target_restarts_waits_for_ready_and_reports_the_cold_start(tmp_path: Path, target: _Restartable) -> None:
    restart = f"""  restart:
    command: {json.dumps([sys.executable, "-c", _POST, target.url + "/__restart"])}
    ready_path: /healthz
    timeout_s: 30"""
    plan = _plan(tmp_path, target.url, restart)
    proc = rehearse("run", str(plan), "--fresh-target", "--out", str(tmp_path), "--run-id", "f")
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert target.restarts == 1
    # the load started only once the target was ready again
    assert target.first_load_at >= target.restarted_at + UNREADY_S
    data = load_results(tmp_path, "f")
    notice = next(n for n in data["notices"] if n.startswith("fresh target"))
    assert "/healthz answered 2xx" in notice and notice in proc.stdout
    cold = next(c for c in data["cold_starts"] if c["endpoint"] == "orders" and c["kind"] == "deploy")
    assert cold["first_ms"] >= COLD_S * 1000
    assert cold["flagged"] is True  # over the 300 ms budget and over 3× the warm p50


def test_without_fresh_target_nothing_is_restarted(tmp_path: Path, target: _Restartable) -> None:
    restart = f"""  restart:
    command: {json.dumps([sys.executable, "-c", _POST, target.url + "/__restart"])}"""
    proc = rehearse("run", str(_plan(tmp_path, target.url, restart)), "--out", str(tmp_path), "--run-id", "n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert target.restarts == 0
    data = load_results(tmp_path, "n")
    assert not [c for c in data["cold_starts"] if c["flagged"]]  # the target was warm all along


@pytest.mark.parametrize(
    ("restart", "code", "message"),
    [
        ("", 2, "target.restart: --fresh-target needs a restart command"),
        ('  restart: {command: "echo boom >&2; exit 7"}', 3, "target.restart.command failed with exit code 7: boom"),
        (
            "  restart: {command: 'true', ready_path: /never, timeout_s: 0.5}",
            3,
            "/never gave no 2xx within 0.5 s (HTTP 404)",
        ),
        ("  restart: {command: [/nonexistent/deploy-hook]}", 3, "target.restart.command cannot run"),
        ("  restart: {command: '   '}", 2, "target.restart.command: must name a command"),
    ],
    ids=["missing", "fails", "never-ready", "not-found", "empty"],
)
def test_restart_problems_are_one_line_errors(
    tmp_path: Path, target: _Restartable, restart: str, code: int, message: str
) -> None:
    plan = _plan(tmp_path, target.url, restart)
    proc = rehearse("run", str(plan), "--fresh-target", "--out", str(tmp_path), "--run-id", "e")
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "e" / "results.json").exists()  # nothing was measured
