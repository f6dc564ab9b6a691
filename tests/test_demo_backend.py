"""The bundled demo backend, exercised as a real subprocess over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import queue
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 30.0
DEFAULT_PASSWORD = "rehearse-demo"
FOUNDER = "founder@demo.example"


@dataclass
class DemoServer:
    proc: subprocess.Popen[str]
    url: str
    stderr_path: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def start_server(log_dir: Path, *args: str, env: dict[str, str] | None = None) -> DemoServer:
    stderr_path = log_dir / f"demo-backend-{uuid.uuid4().hex[:8]}.stderr"
    cmd = [sys.executable, "-m", "demo_backend", "--host", "127.0.0.1", "--port", "0", *args]
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, **(env or {})},
        )
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        line = lines.get(timeout=READY_TIMEOUT_S)
    except queue.Empty:
        line = None
    match = re.fullmatch(r"READY (http://127\.0\.0\.1:\d+)\n", line or "")
    if match is None:
        proc.kill()
        proc.wait()
        pytest.fail(f"no READY line (got {line!r}); stderr:\n{stderr_path.read_text()}")
    return DemoServer(proc, match.group(1), stderr_path)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., DemoServer]]:
    started: list[DemoServer] = []

    def factory(*args: str, env: dict[str, str] | None = None) -> DemoServer:
        server = start_server(tmp_path, *args, env=env)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    server = start_server(tmp_path_factory.mktemp("demo"), "--lazy-init-ms", "0")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(shared_server: DemoServer) -> str:
    return login(shared_server.url, FOUNDER, DEFAULT_PASSWORD)


def login(url: str, email: str, password: str) -> str:
    response = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def timed_get(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code < 500, response.text
    return elapsed


def concurrent_gets(url: str, path: str, headers: dict[str, str], n: int) -> list[float]:
    """n requests released together by a barrier; returns each one's latency."""
    barrier = threading.Barrier(n)

    def one(_: int) -> float:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            client.get("/healthz")  # connect first so the timed part is just the request
            barrier.wait()
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            return elapsed

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


pytestmark = pytest.mark.e2e


# ---- auth ---------------------------------------------------------------------------------------


def test_login_ok_returns_token_and_user(shared_server: DemoServer) -> None:
    response = httpx.post(f"{shared_server.url}/api/auth/login", json={"email": FOUNDER, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert len(body["token"]) >= 32
    assert body["user"]["email"] == FOUNDER
    me = httpx.get(f"{shared_server.url}/api/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["user"]["email"] == FOUNDER


@pytest.mark.parametrize(
    ("email", "password"),
    [(FOUNDER, "wrong-password"), ("nobody@demo.example", DEFAULT_PASSWORD), (FOUNDER, "")],
)
def test_login_bad_credentials_401(shared_server: DemoServer, email: str, password: str) -> None:
    response = httpx.post(f"{shared_server.url}/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 401
    assert "token" not in response.json()


def test_login_malformed_body_400(shared_server: DemoServer) -> None:
    response = httpx.post(f"{shared_server.url}/api/auth/login", content=b"{not json")
    assert response.status_code == 400


def test_all_seeded_users_can_log_in(shared_server: DemoServer) -> None:
    emails = ["sales@demo.example", *(f"prospect{n}@demo.example" for n in range(1, 6))]
    for email in emails:
        token = login(shared_server.url, email, DEFAULT_PASSWORD)
        assert httpx.get(f"{shared_server.url}/api/me", headers=bearer(token)).json()["user"]["email"] == email


@pytest.mark.parametrize("path", ["/api/me", "/api/dashboard", "/api/jobs", "/api/reports/revenue"])
@pytest.mark.parametrize("auth_header", [None, "Bearer not-a-real-token", "Basic Zm9vOmJhcg=="])
def test_api_requires_auth(shared_server: DemoServer, path: str, auth_header: str | None) -> None:
    headers = {"Authorization": auth_header} if auth_header else {}
    response = httpx.get(f"{shared_server.url}{path}", headers=headers)
    assert response.status_code == 401
    assert response.headers["cache-control"] == "no-store"


def test_post_job_requires_auth(shared_server: DemoServer) -> None:
    response = httpx.post(f"{shared_server.url}/api/jobs", json={"title": "x", "client_id": 1})
    assert response.status_code == 401


def test_logout_invalidates_token(shared_server: DemoServer) -> None:
    token = login(shared_server.url, "sales@demo.example", DEFAULT_PASSWORD)
    assert httpx.post(f"{shared_server.url}/api/auth/logout", headers=bearer(token)).status_code == 204
    assert httpx.get(f"{shared_server.url}/api/me", headers=bearer(token)).status_code == 401


# ---- data routes --------------------------------------------------------------------------------


def test_dashboard_aggregates(shared_server: DemoServer, token: str) -> None:
    response = httpx.get(f"{shared_server.url}/api/dashboard", headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert set(body["open_jobs_by_status"]) == {"scheduled", "in_progress", "on_hold"}
    assert body["open_jobs_total"] == sum(body["open_jobs_by_status"].values()) > 0
    assert body["jobs_this_week"] > 0
    assert body["revenue_this_month_cents"] >= 0
    top = body["top_clients"]
    assert len(top) == 5
    assert [c["revenue_cents"] for c in top] == sorted((c["revenue_cents"] for c in top), reverse=True)


def test_jobs_pagination(shared_server: DemoServer, token: str) -> None:
    with shared_server.client() as client:
        page1 = client.get("/api/jobs", params={"page": 1, "per_page": 20}, headers=bearer(token)).json()
        page2 = client.get("/api/jobs", params={"page": 2, "per_page": 20}, headers=bearer(token)).json()
        assert page1["total"] >= 3000
        assert page1["page"] == 1 and page1["per_page"] == 20
        ids1 = [job["id"] for job in page1["items"]]
        ids2 = [job["id"] for job in page2["items"]]
        assert len(ids1) == len(ids2) == 20
        assert ids1 == sorted(ids1, reverse=True)
        assert max(ids2) < min(ids1)
        default = client.get("/api/jobs", headers=bearer(token)).json()
        assert default["page"] == 1 and default["per_page"] == 20
        last = client.get("/api/jobs", params={"page": page1["pages"], "per_page": 20}, headers=bearer(token)).json()
        assert 1 <= len(last["items"]) <= 20
        beyond = client.get(
            "/api/jobs", params={"page": page1["pages"] + 1, "per_page": 20}, headers=bearer(token)
        ).json()
        assert beyond["items"] == []
        for bad in ({"per_page": 0}, {"per_page": 1000}, {"page": 0}, {"page": "x"}):
            assert client.get("/api/jobs", params=bad, headers=bearer(token)).status_code == 400


def test_post_job_creates_exactly_one_row(shared_server: DemoServer, token: str) -> None:
    ref = f"test-{uuid.uuid4()}"
    with shared_server.client() as client:
        before = client.get("/api/jobs", params={"client_ref": ref}, headers=bearer(token)).json()
        assert before["total"] == 0
        created = client.post(
            "/api/jobs",
            json={"title": "Boiler check", "client_id": 7, "client_ref": ref},
            headers=bearer(token),
        )
        assert created.status_code == 201
        job = created.json()
        assert job["title"] == "Boiler check" and job["client_id"] == 7 and job["client_ref"] == ref
        after = client.get("/api/jobs", params={"client_ref": ref}, headers=bearer(token)).json()
        assert after["total"] == 1
        assert [row["id"] for row in after["items"]] == [job["id"]]
        assert client.get(f"/api/jobs/{job['id']}", headers=bearer(token)).json() == job
        # No silent de-duplication: a retry with the same ref is a second row that tests can see.
        client.post(
            "/api/jobs",
            json={"title": "Boiler check", "client_id": 7, "client_ref": ref},
            headers=bearer(token),
        )
        assert client.get("/api/jobs", params={"client_ref": ref}, headers=bearer(token)).json()["total"] == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"title": "", "client_id": 1}, 422),
        ({"title": "ok", "client_id": "1"}, 422),
        ({"title": "ok", "client_id": 999_999}, 422),
        ({"client_id": 1}, 422),
        (["not", "an", "object"], 400),
    ],
)
def test_post_job_validation(shared_server: DemoServer, token: str, body: Any, status: int) -> None:
    response = httpx.post(f"{shared_server.url}/api/jobs", json=body, headers=bearer(token))
    assert response.status_code == status
    assert "error" in response.json()


def test_cache_control_no_store_on_api(shared_server: DemoServer, token: str) -> None:
    with shared_server.client() as client:
        for path in ("/api/me", "/api/dashboard", "/api/jobs", "/api/no-such-route"):
            assert client.get(path, headers=bearer(token)).headers["cache-control"] == "no-store"
        bad_login = client.post("/api/auth/login", json={"email": FOUNDER, "password": "nope"})
        assert bad_login.headers["cache-control"] == "no-store"
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"ok": True}


def test_revenue_report_is_much_slower_than_healthz_and_dashboard(shared_server: DemoServer, token: str) -> None:
    with shared_server.client() as client:
        report = client.get("/api/reports/revenue", headers=bearer(token))
        assert report.status_code == 200
        body = report.json()
        assert body["rows"] and body["total_cents"] == sum(m["revenue_cents"] for m in body["months"])
        revenue = statistics.median(timed_get(client, "/api/reports/revenue", bearer(token)) for _ in range(3))
        dashboard = statistics.median(timed_get(client, "/api/dashboard", bearer(token)) for _ in range(5))
        health = statistics.median(timed_get(client, "/healthz") for _ in range(5))
    print(f"p50 revenue={revenue * 1000:.1f}ms dashboard={dashboard * 1000:.1f}ms healthz={health * 1000:.1f}ms")
    assert revenue > 20 * health
    assert revenue > 10 * dashboard


# ---- behaviour switches -------------------------------------------------------------------------


def test_lazy_init_first_requests_pay_the_warmup(server_factory: Callable[..., DemoServer]) -> None:
    lazy_ms = 700
    server = server_factory("--lazy-init-ms", str(lazy_ms))
    with server.client() as client:
        assert timed_get(client, "/healthz") < lazy_ms / 1000 * 0.5  # /healthz does not trigger it
    # Concurrent first requests all wait for the one warm-up.
    latencies = _concurrent_first_api_requests(server.url, 3)
    assert min(latencies) >= lazy_ms / 1000 * 0.8, latencies
    with server.client() as client:
        second = timed_get(client, "/api/me")
    assert second < min(latencies) / 4, (latencies, second)


def _concurrent_first_api_requests(url: str, n: int) -> list[float]:
    barrier = threading.Barrier(n)

    def one(_: int) -> float:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            client.get("/healthz")
            barrier.wait()
            started = time.perf_counter()
            assert client.get("/api/me").status_code == 401
            return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_lazy_init_zero_first_request_fast_and_clean_stop(
    server_factory: Callable[..., DemoServer], tmp_path: Path
) -> None:
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    server = server_factory("--lazy-init-ms", "0", env={"TMPDIR": str(tmp)})
    assert [p.name for p in tmp.iterdir() if p.name.startswith("rehearse-demo-")]  # temp db in use
    with server.client() as client:
        assert timed_get(client, "/api/me") < 0.3
    assert server.stop() == 0
    assert not [p.name for p in tmp.iterdir() if p.name.startswith("rehearse-demo-")]  # removed on stop


def test_password_from_env_and_explicit_db_kept(server_factory: Callable[..., DemoServer], tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite3"
    server = server_factory("--lazy-init-ms", "0", "--db", str(db), env={"REHEARSE_DEMO_PASSWORD": "another-secret-pw"})
    bad = httpx.post(f"{server.url}/api/auth/login", json={"email": FOUNDER, "password": DEFAULT_PASSWORD})
    assert bad.status_code == 401
    assert login(server.url, FOUNDER, "another-secret-pw")
    assert server.stop() == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM invoices").fetchone()[0] == 20000
        hashes = [row[0] for row in conn.execute("SELECT password_hash FROM users")]
    assert len(hashes) == 7 and all(h.startswith("pbkdf2_sha256$") for h in hashes)
    assert len(set(hashes)) == 7  # per-user salt
    assert not any("another-secret-pw" in h for h in hashes)


def test_serialize_route_queues_concurrent_requests(server_factory: Callable[..., DemoServer]) -> None:
    server = server_factory("--lazy-init-ms", "0", "--serialize-route", "/api/dashboard", "--slow-dashboard-ms", "250")
    headers = bearer(login(server.url, FOUNDER, DEFAULT_PASSWORD))
    with server.client() as client:
        solo = statistics.median(timed_get(client, "/api/dashboard", headers) for _ in range(2))
    latencies = concurrent_gets(server.url, "/api/dashboard", headers, 3)
    assert max(latencies) >= 2.5 * solo, (solo, latencies)
    # Other routes are not behind the lock.
    with server.client() as client:
        assert timed_get(client, "/api/me", headers) < solo


def test_slow_dashboard_without_lock_overlaps(
    server_factory: Callable[..., DemoServer], shared_server: DemoServer, token: str
) -> None:
    server = server_factory("--lazy-init-ms", "0", "--slow-dashboard-ms", "250")
    headers = bearer(login(server.url, FOUNDER, DEFAULT_PASSWORD))
    with server.client() as client:
        solo = statistics.median(timed_get(client, "/api/dashboard", headers) for _ in range(2))
    with shared_server.client() as client:
        normal = statistics.median(timed_get(client, "/api/dashboard", bearer(token)) for _ in range(3))
    assert solo >= 0.25
    assert solo > 3 * normal
    latencies = concurrent_gets(server.url, "/api/dashboard", headers, 3)
    assert max(latencies) < 1.8 * solo, (solo, latencies)


def test_bad_serialize_route_is_rejected() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo_backend", "--port", "0", "--serialize-route", "/api/nope"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "serialize_route" in result.stderr
    assert "READY" not in result.stdout


# ---- mobile web app -----------------------------------------------------------------------------


class _IdCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: dict[str, dict[str, str | None]] = {}
        self.assets: list[str] = []
        self.viewport = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.elements[str(attributes["id"])] = {"tag": tag, **attributes}
        if tag == "meta" and attributes.get("name") == "viewport":
            self.viewport = "width=device-width" in (attributes.get("content") or "")
        for key in ("src", "href"):
            value = attributes.get(key)
            if tag in ("script", "link") and value and not value.startswith("data:"):
                self.assets.append(value)


FIXED_IDS = [
    "login-screen",
    "email",
    "password",
    "login-button",
    "login-error",
    "dashboard-screen",
    "dashboard-data",
    "new-job-button",
    "logout-button",
    "new-job-screen",
    "job-title",
    "job-submit",
    "job-success",
    "job-error",
    "job-retry",
]


def test_mobile_app_html_contract(shared_server: DemoServer) -> None:
    with shared_server.client() as client:
        page = client.get("/app/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        parser = _IdCollector()
        parser.feed(page.text)
        assert parser.viewport
        missing = [i for i in FIXED_IDS if i not in parser.elements]
        assert not missing
        unlabeled = [i for i, attrs in parser.elements.items() if not attrs.get("aria-label")]
        assert not unlabeled
        assert "hidden" in parser.elements["job-success"]
        assert "hidden" in parser.elements["job-retry"]
        assert "hidden" in parser.elements["dashboard-data"]
        assert page.text.count('id="job-success"') == 1
        bodies = [page.text]
        assert parser.assets
        for asset in parser.assets:
            assert "//" not in asset  # same-origin, relative
            response = client.get(f"/app/{asset}")
            assert response.status_code == 200
            bodies.append(response.text)
    for text in bodies:
        assert not re.search(r"https?://", text)
    script = "\n".join(bodies)
    assert 'cache: "no-store"' in script
    assert "sessionStorage" in script
    assert 'dataset.loaded = "true"' in script
