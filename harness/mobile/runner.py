"""Run the mobile critical path on every configured device and return one ``MobileFlow`` per device.

One boundary for foreign errors: Appium/Selenium failures to open a session become ``DeviceError``; a missing
credential becomes ``PlanError``; everything that goes wrong inside a flow is a failed step, not an exception.
The test user's password never leaves this module: it is typed into the app, scrubbed from page sources,
errors and the Selenium client's debug log, and nothing else sees it.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urljoin, urlsplit

import httpx
import urllib3
from appium import webdriver
from appium.webdriver.client_config import AppiumClientConfig
from appium.webdriver.webdriver import WebDriver
from selenium.common.exceptions import WebDriverException

from harness.errors import DeviceError, PlanError
from harness.mobile.appium_server import AppiumServer, default_appium_home, free_ports
from harness.mobile.cdp import NetworkProfileLike, apply_network
from harness.mobile.config import ChromiumDevice, Device, IosDevice, MobileConfig, RemoteDevice
from harness.mobile.devices import SessionSetup, build_session
from harness.model import MobileFlow
from mobile_flows.critical_path import FLOW_NAME, FlowHooks, FlowInput, run_critical_path
from mobile_flows.locators import Locator, parse_locator
from mobile_flows.screens import JobOutcome, ScreenContext

log = logging.getLogger(__name__)

REDACTED = "***"
_CLIENT_LOGGERS = ("selenium.webdriver.remote.remote_connection", "appium.common.logger")


class Redactor:
    """Replaces a secret, in the forms it takes in HTML, JSON and URLs, with ``***``."""

    def __init__(self, *secrets: str) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= {secret, html.escape(secret), json.dumps(secret)[1:-1], quote(secret, safe="")}
        # longest first, so an escaped form is not half-replaced by its plain prefix
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text


class _RedactingFilter(logging.Filter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


@contextlib.contextmanager
def _redacted_client_logs(redact: Redactor) -> Iterator[None]:
    """The Selenium client logs request bodies (typed text included) at debug level."""
    filt = _RedactingFilter(redact)
    loggers = [logging.getLogger(name) for name in _CLIENT_LOGGERS]
    for logger in loggers:
        logger.addFilter(filt)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(filt)


def _credentials(config: MobileConfig) -> tuple[str, str]:
    creds = config.credentials
    values = []
    for key, env in (("username_env", creds.username_env), ("password_env", creds.password_env)):
        value = os.environ.get(env, "")
        if not value:
            raise PlanError(
                f"environment variable {env} is not set (the test user's login)",
                key=f"mobile.credentials.{key}",
            )
        values.append(value)
    return values[0], values[1]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _is_local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def _profile_name(profile: NetworkProfileLike | None) -> str:
    return profile.name if profile is not None else "direct"


@dataclass
class _Run:
    config: MobileConfig
    base_url: str
    out_dir: Path
    phase: str
    profile: NetworkProfileLike | None
    username: str
    password: str
    redact: Redactor
    appium_url: str | None

    def device_dir(self, device: Device) -> Path:
        folder = self.out_dir / "mobile" / f"{_slug(self.phase)}-{_slug(_profile_name(self.profile))}" / device.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _connect(setup: SessionSetup, url: str, device: Device, timeout_s: float) -> WebDriver:
    client_config = AppiumClientConfig(remote_server_addr=url, timeout=int(timeout_s), keep_alive=True)
    try:
        return webdriver.Remote(url, options=setup.options, client_config=client_config)
    except WebDriverException as exc:
        raise DeviceError(
            f"device {device.name!r} ({device.kind}): session could not start at {url}: "
            f"{(exc.msg or str(exc)).strip()[:500]}"
        ) from exc
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:  # refused, timed out, bad URL
        raise DeviceError(f"device {device.name!r}: Appium at {url} is unreachable: {exc}") from exc


class EvidenceSource(Protocol):
    """What evidence saving needs from a session (a WebDriver, or a stand-in in tests)."""

    @property
    def page_source(self) -> str: ...
    def get_screenshot_as_png(self) -> bytes: ...


def _save_evidence(
    driver: EvidenceSource, folder: Path, out_dir: Path, stem: str, redact: Redactor, source_ext: str | None
) -> tuple[str, str]:
    """Screenshot (PNG) and redacted page source; paths are relative to out_dir ("" when not saved)."""
    shot = source = ""
    # best effort: evidence must never turn a failed step into a crash (the session may be dead)
    with contextlib.suppress(Exception):
        png = folder / f"{stem}.png"
        png.write_bytes(driver.get_screenshot_as_png())
        shot = png.relative_to(out_dir).as_posix()
    if source_ext is None:
        return shot, source
    with contextlib.suppress(Exception):
        page = folder / f"{stem}{source_ext}"
        page.write_text(redact(driver.page_source), encoding="utf-8")
        source = page.relative_to(out_dir).as_posix()
    return shot, source


def _app_id(device: Device) -> str | None:
    if isinstance(device, IosDevice):
        return device.bundle_id
    if isinstance(device, RemoteDevice):
        caps = device.capabilities
        for key in ("appium:appPackage", "appPackage", "appium:bundleId", "bundleId"):
            if isinstance(caps.get(key), str):
                return str(caps[key])
        return None
    if isinstance(device, ChromiumDevice):
        return None
    return device.app_package


def _stop_browser(pid: int, timeout_s: float = 5.0) -> None:
    """Make sure Chromium is gone after quit(); kill it if it lingers (only if it still is Chromium)."""
    stat = Path(f"/proc/{pid}/stat")

    def alive() -> bool:
        try:
            # "pid (comm) state ...": a zombie (Z) or dead (X) process is gone for our purposes
            comm, _, rest = stat.read_text().rpartition(")")
        except OSError:
            return False
        return "chrom" in comm.lower() and rest.split()[0] not in ("Z", "X")

    deadline = time.monotonic() + timeout_s
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not alive():
            return
        log.warning("browser process %d outlived its session; sending %s", pid, sig.name)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        time.sleep(0.5)


class _DeviceFlow:
    """One session on one device: open, throttle, walk the critical path, keep evidence, clean up."""

    def __init__(self, run: _Run, device: Device, chromedriver_port: int | None = None) -> None:
        self.run = run
        self.device = device
        self.chromedriver_port = chromedriver_port
        self.folder = run.device_dir(device)
        self.flow = MobileFlow(
            name=FLOW_NAME,
            device=device.name,
            passed=False,
            phase=run.phase,
            profile=_profile_name(run.profile),
        )
        self.web = device.platform == "chromium"

    def locators(self) -> dict[str, Locator]:
        spec = self.run.config.locators.for_platform(self.device.platform)
        return {
            key: parse_locator(value, self.device.platform)
            for key, value in spec.model_dump().items()
            if value is not None
        }

    def execute(self) -> MobileFlow:
        config = self.run.config
        setup = build_session(
            self.device,
            profile=self.run.profile,
            chromedriver_port=self.chromedriver_port,
            new_command_timeout_s=int(config.session_timeout_s),
        )
        url = setup.server_url or self.run.appium_url
        if url is None:
            raise DeviceError(f"device {self.device.name!r}: no Appium server to connect to")
        self.flow.network_applied, self.flow.notice = setup.network_applied, setup.notice
        try:
            driver = _connect(setup, url, self.device, config.session_timeout_s)
            try:
                self._walk(driver, setup)
            except (urllib3.exceptions.HTTPError, OSError) as exc:  # Appium died or stopped answering
                raise DeviceError(f"device {self.device.name!r}: lost the Appium session at {url}: {exc}") from exc
            finally:
                self._finish(driver, local=_is_local(url) and setup.server_url is None)
        finally:
            setup.cleanup()
        return self.flow

    def _walk(self, driver: WebDriver, setup: SessionSetup) -> None:
        config, run = self.run.config, self.run
        if self.web:
            driver.set_page_load_timeout(config.step_timeout_s)
        if setup.network_via == "cdp" and run.profile is not None:
            try:
                unsupported = apply_network(driver, run.profile)
                if unsupported:
                    self._notice(unsupported)
            except DeviceError as exc:
                self._notice(f"network profile {run.profile.name!r} not applied: {exc}")
                self.flow.network_applied = False
        ctx = ScreenContext(driver=driver, locators=self.locators(), timeout_s=config.step_timeout_s)
        hooks = FlowHooks(
            launch=lambda: self._launch(driver),
            evidence=lambda step: self._evidence(driver, f"failed-{step}"),
            verify_write=(lambda outcome: self._verify_write(driver, outcome)) if config.verify_write_url else None,
            redact=run.redact,
        )
        given = FlowInput(
            username=run.username,
            password=run.password,
            job_title=config.job_title,
            budgets_ms=config.budgets_ms.model_dump(),
        )
        self.flow.steps = run_critical_path(ctx, given, hooks)
        self.flow.passed = all(step.passed for step in self.flow.steps)

    def _notice(self, text: str) -> None:
        self.flow.notice = f"{self.flow.notice}; {text}" if self.flow.notice else text

    def _launch(self, driver: WebDriver) -> None:
        if self.web:
            driver.get(urljoin(self.run.base_url.rstrip("/") + "/", self.run.config.app_path.lstrip("/")))
            return
        app_id = _app_id(self.device)
        if app_id is None:
            self._notice("app_open: the session launched the app, timed from then (set app_package/bundle_id)")
            return
        driver.terminate_app(app_id)
        driver.activate_app(app_id)

    def _evidence(self, driver: WebDriver, stem: str) -> tuple[str, str]:
        return _save_evidence(
            driver, self.folder, self.run.out_dir, stem, self.run.redact, ".html" if self.web else ".xml"
        )

    def _token(self, driver: WebDriver, client: httpx.Client) -> str:
        """The flow's own login token from the app's storage, else a fresh login as the same user."""
        key = self.run.config.token_storage_key
        if self.web and key:
            with contextlib.suppress(WebDriverException):
                value = driver.execute_script(
                    "return sessionStorage.getItem(arguments[0]) || localStorage.getItem(arguments[0]);", key
                )
                if isinstance(value, str) and value:
                    return value
        login_url = self.run.config.login_url
        if not login_url:
            return ""
        response = client.post(
            urljoin(self.run.base_url, login_url),
            json={"email": self.run.username, "password": self.run.password},
        )
        response.raise_for_status()
        token = response.json().get("token", "")
        return token if isinstance(token, str) else ""

    def _verify_write(self, driver: WebDriver, outcome: JobOutcome) -> str:
        template = self.run.config.verify_write_url
        assert template is not None
        if not outcome.client_ref:
            return "cannot verify the write: the success message carries no data-client-ref"
        url = urljoin(self.run.base_url, template.format(client_ref=quote(outcome.client_ref, safe="")))
        try:
            with httpx.Client(timeout=self.run.config.step_timeout_s) as client:
                token = self._token(driver, client)
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = client.get(url, headers=headers)
                response.raise_for_status()
                body: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return self.run.redact(f"cannot verify the write at {url}: {exc}")
        rows = _row_count(body)
        if rows is None:
            return f"cannot verify the write: {url} did not answer with items/total"
        if rows != 1:
            return f"server has {rows} rows for client_ref {outcome.client_ref} (expected exactly 1)"
        return ""

    def _finish(self, driver: WebDriver, *, local: bool) -> None:
        shot, _ = _save_evidence(driver, self.folder, self.run.out_dir, "final", self.run.redact, None)
        self.flow.final_screenshot = shot
        pid = driver.capabilities.get("goog:processID") if local else None
        try:
            driver.quit()
        except Exception as exc:  # the session may already be gone; the browser check below still runs
            log.warning("device %s: quit failed: %s", self.device.name, exc)
        if isinstance(pid, int):
            _stop_browser(pid)


def _row_count(body: Any) -> int | None:
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict):
        if isinstance(body.get("total"), int):
            return int(body["total"])
        if isinstance(body.get("items"), list):
            return len(body["items"])
    return None


def run_mobile(
    config: MobileConfig,
    base_url: str,
    out_dir: Path,
    phase: str = "baseline",
    profile: NetworkProfileLike | None = None,
) -> list[MobileFlow]:
    """Walk the critical path on every device in ``config`` against the app at ``base_url``.

    Starts (and stops) a local Appium server when ``config.appium_url`` is None. Evidence files go under
    ``out_dir/mobile/<phase>-<profile>/<device>/`` and are referenced relative to ``out_dir``.
    Raises PlanError for missing credentials, DeviceError when Appium or a session cannot start.
    """
    username, password = _credentials(config)
    redact = Redactor(password)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    needs_server = config.appium_url is None and any(d.kind != "remote" for d in config.devices)
    server: AppiumServer | None = None
    home = Path(config.appium_home) if config.appium_home else None
    with _redacted_client_logs(redact):
        try:
            if needs_server:
                server = AppiumServer(home, startup_timeout_s=config.session_timeout_s)
                server.start()
            run = _Run(
                config=config,
                base_url=base_url,
                out_dir=out_dir,
                phase=phase,
                profile=profile,
                username=username,
                password=password,
                redact=redact,
                appium_url=server.url if server else config.appium_url,
            )
            chromium = [d for d in config.devices if isinstance(d, ChromiumDevice)]
            ports = dict(zip((d.name for d in chromium), free_ports(len(chromium)), strict=True))
            flows = [_DeviceFlow(run, device, ports.get(device.name)) for device in config.devices]
            with ThreadPoolExecutor(max_workers=config.parallel, thread_name_prefix="mobile") as pool:
                futures = [pool.submit(flow.execute) for flow in flows]
                return [future.result() for future in futures]
        finally:
            if server is not None:
                server.stop()


def appium_available(home: Path | None = None) -> bool:
    """True when a local Appium install and node are present (tests and the CLI use it to explain skips)."""
    root = home or default_appium_home()
    return (root / "node_modules" / "appium" / "index.js").is_file() and shutil.which("node") is not None
