"""Network throttling inside Chromium through DevTools, reached via Appium's proxy to chromedriver.

chromedriver's own network-conditions endpoint answers 404 behind Appium (measured), so we send
``Network.emulateNetworkConditions`` through ``POST /session/:id/goog/cdp/execute``, a route the Python
client does not know until we register it.
"""

from __future__ import annotations

from typing import Any, Protocol

from appium.webdriver.webdriver import WebDriver
from selenium.common.exceptions import WebDriverException

from harness.errors import DeviceError

CDP_EXECUTE = "rehearseGoogCdpExecute"
_CDP_ROUTE = "/session/$sessionId/goog/cdp/execute"


class NetworkProfileLike(Protocol):
    """Any object with these attributes (the harness's NetworkProfile, a test double...)."""

    @property
    def name(self) -> str: ...
    @property
    def rtt_ms(self) -> float: ...
    @property
    def down_kbit(self) -> float | None: ...  # None or 0: unlimited
    @property
    def up_kbit(self) -> float | None: ...
    @property
    def loss_pct(self) -> float: ...


def _throughput(kbit: float | None) -> float:
    # DevTools takes bytes per second and -1 for "no limit"
    return kbit * 1000.0 / 8.0 if kbit else -1.0


def network_conditions(profile: NetworkProfileLike | None) -> dict[str, Any]:
    """Parameters for ``Network.emulateNetworkConditions``; None lifts every limit."""
    if profile is None:
        return {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    params: dict[str, Any] = {
        "offline": False,
        # DevTools adds this per request, which is what a round trip on a kept-alive connection costs.
        "latency": max(0.0, float(profile.rtt_ms)),
        "downloadThroughput": _throughput(profile.down_kbit),
        "uploadThroughput": _throughput(profile.up_kbit),
    }
    if profile.loss_pct > 0:
        params["packetLoss"] = float(profile.loss_pct)
    return params


def execute_cdp(driver: WebDriver, cmd: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one DevTools command in the session's page and return its result."""
    if driver.command_executor.get_command(CDP_EXECUTE) is None:
        driver.command_executor.add_command(CDP_EXECUTE, "POST", _CDP_ROUTE)  # type: ignore[no-untyped-call]
    try:
        response = driver.execute(CDP_EXECUTE, {"cmd": cmd, "params": params})
    except WebDriverException as exc:
        raise DeviceError(f"DevTools command {cmd} failed: {exc.msg or exc}") from exc
    value = response.get("value")
    return value if isinstance(value, dict) else {}


def apply_network(driver: WebDriver, profile: NetworkProfileLike | None) -> str:
    """Throttle (or un-throttle, with None) the browser's network for the rest of the session.

    Returns a notice about what DevTools cannot emulate ("" when everything applied).
    """
    execute_cdp(driver, "Network.enable", {})
    execute_cdp(driver, "Network.emulateNetworkConditions", network_conditions(profile))
    jitter = float(getattr(profile, "jitter_ms", 0) or 0)
    return f"jitter {jitter:g} ms not emulated by DevTools (constant latency)" if jitter > 0 else ""
