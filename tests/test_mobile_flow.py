"""The mobile critical path end to end: real demo backend, real Appium server, real headless Chromium.

The e2e tests are marked ``mobile``; they skip only when Chromium or the pinned Appium install is missing
(``scripts/setup_mobile.sh`` installs both). A few unit tests of the secret handling run everywhere.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.errors import DeviceError
from harness.mobile.appium_server import AppiumServer, default_appium_home
from harness.mobile.config import MobileConfig
from harness.mobile.runner import Redactor, _redacted_client_logs, _save_evidence, appium_available, run_mobile
from harness.model import MobileFlow
from tests.mobile_demo import DEMO_MOBILE

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
USER = "founder@demo.example"
# HTML- and JSON-special characters, so the redaction of escaped forms is exercised too
PASSWORD = 'e2e-S3cret&<"pw">'
USER_ENV, PASSWORD_ENV = "REHEARSE_E2E_USER", "REHEARSE_E2E_PASSWORD"


def _missing_parts() -> str:
    if not Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium is missing (run scripts/setup_mobile.sh)"
    if not appium_available(default_appium_home()):
        return f"Appium is not installed in {default_appium_home()} (run scripts/setup_mobile.sh)"
    return ""


needs_mobile = pytest.mark.skipif(bool(_missing_parts()), reason=_missing_parts() or "ready")


@dataclass
class Profile:
    name: str = "rtt500"
    rtt_ms: float = 500.0
    down_kbit: float = 1600.0
    up_kbit: float = 750.0
    loss_pct: float = 0.0


@contextlib.contextmanager
def demo_backend(*args: str) -> Iterator[str]:
    """Start ``python -m demo_backend`` on a free port; yield its base URL; stop it."""
    env = dict(os.environ, REHEARSE_DEMO_PASSWORD=PASSWORD)
    with tempfile.TemporaryFile() as out:
        cmd = [sys.executable, "-m", "demo_backend", "--host", "127.0.0.1", "--port", "0", "--lazy-init-ms", "0"]
        proc = subprocess.Popen([*cmd, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        try:
            deadline = time.monotonic() + 30
            url = ""
            while not url:
                out.seek(0)
                for line in out.read().decode(errors="replace").splitlines():
                    if line.startswith("READY "):
                        url = line.split()[1]
                if proc.poll() is not None or time.monotonic() > deadline:
                    out.seek(0)
                    pytest.fail(f"demo backend did not start: {out.read().decode(errors='replace')[-1000:]}")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def appium_url() -> Iterator[str]:
    with AppiumServer() as server:
        yield server.url


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    with demo_backend() as url:
        yield url


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, USER)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def mobile_config(device: str, **overrides: Any) -> MobileConfig:
    data: dict[str, Any] = {
        "credentials": {"username_env": USER_ENV, "password_env": PASSWORD_ENV},
        "verify_write_url": "/api/jobs?client_ref={client_ref}",
        "step_timeout_s": 15,
        "devices": [{"name": device, "kind": "chromium", "emulate": "Pixel 7"}],
        # the bundled plan's own mapping of the demo app, and how the write is verified server-side
        "locators": DEMO_MOBILE["locators"],
        "token_storage_key": DEMO_MOBILE["token_storage_key"],
    }
    data.update(overrides)
    return MobileConfig.model_validate(data)


def steps_of(flow: MobileFlow) -> dict[str, Any]:
    return {step.name: step for step in flow.steps}


def assert_no_secret_saved(flows: list[MobileFlow], out_dir: Path) -> None:
    assert PASSWORD not in json.dumps([asdict(f) for f in flows])
    saved = [p for p in out_dir.rglob("*") if p.is_file()]
    assert saved, "expected evidence files"
    for path in saved:
        data = path.read_bytes()
        for form in (PASSWORD, PASSWORD.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")):
            assert form.encode() not in data, f"password found in {path}"


def browsers_of(device: str) -> list[int]:
    """Chromium processes still running with this device's profile folder."""
    marker = f"--user-data-dir={tempfile.gettempdir()}/rehearse-chromium-{device}-".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if marker in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
    return pids


def jobs_titled(base_url: str, title: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        token = client.post("/api/auth/login", json={"email": USER, "password": PASSWORD}).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        items = client.get("/api/jobs", params={"per_page": 100}).json()["items"]
        rows = [job for job in items if job["title"] == title]
        for job in rows:  # the row the app wrote is the only one with its client_ref
            by_ref = client.get("/api/jobs", params={"client_ref": job["client_ref"]}).json()
            assert by_ref["total"] == 1, by_ref
        return rows


# ---- end to end -------------------------------------------------------------------------------------


@pytest.mark.mobile
@needs_mobile
@pytest.mark.usefixtures("credentials")
def test_critical_path_passes_on_chromium(backend: str, tmp_path: Path) -> None:
    """With appium_url unset the runner starts its own Appium server, and leaves nothing behind."""
    title = f"rehearse e2e {uuid.uuid4().hex[:8]}"
    cfg = mobile_config("pixel-e2e", job_title=title)
    ours = ("rehearse-appium-*", "rehearse-chromium-pixel-e2e-*")
    tmp_before = {p for pattern in ours for p in Path(tempfile.gettempdir()).glob(pattern)}

    flows = run_mobile(cfg, backend, tmp_path, phase="baseline")

    assert len(flows) == 1
    flow = flows[0]
    assert flow.passed, [(s.name, s.error) for s in flow.steps]
    assert (flow.name, flow.device, flow.phase, flow.profile) == ("critical_path", "pixel-e2e", "baseline", "direct")
    assert [s.name for s in flow.steps] == ["app_open", "login", "dashboard", "write"]
    for step in flow.steps:
        assert step.passed and step.error == ""
        assert step.duration_ms > 0
        assert step.budget_ms is not None and step.duration_ms <= step.budget_ms
    final = tmp_path / flow.final_screenshot
    assert final.read_bytes()[:8] == PNG_SIGNATURE
    assert len(jobs_titled(backend, title)) == 1  # exactly one row, checked by us as well as by the flow
    assert_no_secret_saved(flows, tmp_path)
    assert browsers_of("pixel-e2e") == []
    tmp_after = {p for pattern in ours for p in Path(tempfile.gettempdir()).glob(pattern)}
    assert tmp_after <= tmp_before  # the server's TMPDIR and the browser profile are removed


@pytest.mark.mobile
@needs_mobile
@pytest.mark.usefixtures("credentials")
def test_slow_dashboard_fails_its_budget_and_keeps_evidence(appium_url: str, tmp_path: Path) -> None:
    cfg = mobile_config("pixel-slow", appium_url=appium_url)
    with demo_backend("--slow-dashboard-ms", "3500") as url:
        flows = run_mobile(cfg, url, tmp_path, phase="under_load")

    flow = flows[0]
    steps = steps_of(flow)
    assert not flow.passed and flow.phase == "under_load"
    assert steps["app_open"].passed and steps["login"].passed
    dashboard = steps["dashboard"]
    assert not dashboard.passed
    assert dashboard.duration_ms > 3000 and dashboard.budget_ms == 3000
    assert "budget" in dashboard.error
    assert (tmp_path / dashboard.screenshot).read_bytes()[:8] == PNG_SIGNATURE
    assert 'data-loaded="true"' in (tmp_path / dashboard.page_source).read_text()
    assert not steps["write"].passed and steps["write"].error.startswith("not run")
    assert (tmp_path / flow.final_screenshot).read_bytes()[:8] == PNG_SIGNATURE
    assert_no_secret_saved(flows, tmp_path)


@pytest.mark.mobile
@needs_mobile
@pytest.mark.usefixtures("credentials")
def test_throttled_profile_is_measurably_slower(appium_url: str, backend: str, tmp_path: Path) -> None:
    cfg = mobile_config("pixel-net", appium_url=appium_url, budgets_ms={"app_open": 10000, "dashboard": 10000})
    direct = steps_of(run_mobile(cfg, backend, tmp_path / "direct")[0])
    flows = run_mobile(cfg, backend, tmp_path / "slow", profile=Profile())
    throttled = steps_of(flows[0])

    assert flows[0].profile == "rtt500" and flows[0].network_applied and flows[0].passed
    for name in ("app_open", "dashboard"):
        ratio = throttled[name].duration_ms / direct[name].duration_ms
        assert ratio > 1.5, f"{name}: {direct[name].duration_ms} ms direct vs {throttled[name].duration_ms} ms"


@pytest.mark.mobile
@needs_mobile
def test_rejected_login_stops_the_flow_without_leaking_the_password(
    appium_url: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(USER_ENV, "nobody@demo.example")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    flows = run_mobile(mobile_config("pixel-bad", appium_url=appium_url), backend, tmp_path)

    steps = steps_of(flows[0])
    assert steps["app_open"].passed
    assert not steps["login"].passed and "sign-in rejected" in steps["login"].error
    assert [steps[n].error.startswith("not run") for n in ("dashboard", "write")] == [True, True]
    assert (tmp_path / steps["login"].page_source).is_file()
    assert_no_secret_saved(flows, tmp_path)


@pytest.mark.mobile
@needs_mobile
@pytest.mark.usefixtures("credentials")
def test_browser_that_cannot_start_is_a_device_error(appium_url: str, backend: str, tmp_path: Path) -> None:
    device = {"name": "pixel-nobin", "kind": "chromium", "binary": str(tmp_path / "no-such-chromium")}
    cfg = mobile_config("pixel-nobin", appium_url=appium_url, devices=[device])
    with pytest.raises(DeviceError, match="session could not start"):
        run_mobile(cfg, backend, tmp_path)


# ---- secret handling (no browser needed) ------------------------------------------------------------


class _FakeDriver:
    """Just enough of a WebDriver for evidence saving."""

    def __init__(self, source: str) -> None:
        self.page_source = source

    def get_screenshot_as_png(self) -> bytes:
        return PNG_SIGNATURE + b"fake"


def test_saved_page_source_is_redacted(tmp_path: Path) -> None:
    escaped = PASSWORD.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    source = f'<input value="{escaped}"><pre>{json.dumps({"text": PASSWORD})}</pre><p>{PASSWORD}</p>'
    shot, page = _save_evidence(_FakeDriver(source), tmp_path, tmp_path, "failed-login", Redactor(PASSWORD),
                                ".html")  # fmt: skip
    assert (shot, page) == ("failed-login.png", "failed-login.html")
    saved = (tmp_path / page).read_text()
    assert "e2e-S3cret" not in saved
    assert saved.count("***") == 3


def test_client_debug_log_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("selenium.webdriver.remote.remote_connection")
    with caplog.at_level(logging.DEBUG, logger=logger.name), _redacted_client_logs(Redactor(PASSWORD)):
        logger.debug("%s %s %s", "POST", "http://x/element/1/value", {"text": PASSWORD})
    assert caplog.records and PASSWORD not in caplog.text and "***" in caplog.text
