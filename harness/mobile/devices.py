"""Appium options for each kind of device, built with the client's own options classes.

Also decides how (or whether) a network profile can be applied on that device: DevTools on Chromium,
emulator arguments on Android emulators, nothing on real devices and device farms (said in a notice).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from appium.options.android import UiAutomator2Options
from appium.options.common import AppiumOptions
from appium.options.ios import XCUITestOptions

from harness.mobile.cdp import NetworkProfileLike
from harness.mobile.config import (
    EMULATOR_NETSPEEDS,
    AndroidDevice,
    ChromiumDevice,
    Device,
    IosDevice,
    RemoteDevice,
)

NetworkVia = Literal["cdp", "emulator", "none"]

# Flags that keep a headless Chromium quiet, reproducible and off the network except for the app:
# no QUIC (DevTools throttling does not see it), no background fetches that would share the throttled link.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@dataclass
class SessionSetup:
    """Everything needed to open one session on one device."""

    options: AppiumOptions
    server_url: str | None = None  # the device's own endpoint (remote); None: the run's Appium server
    network_via: NetworkVia = "none"
    network_applied: bool = True
    notice: str = ""
    temp_dirs: list[Path] = field(default_factory=list)

    def cleanup(self) -> None:
        for path in self.temp_dirs:
            shutil.rmtree(path, ignore_errors=True)
        self.temp_dirs.clear()


def _host_platform() -> str:
    if sys.platform.startswith("darwin"):
        return "mac"
    if sys.platform.startswith("win"):
        return "windows"
    return "linux"


def chromium_options(device: ChromiumDevice, *, chromedriver_port: int | None, user_data_dir: Path) -> AppiumOptions:
    """Options for appium-chromium-driver with the system Chromium and chromedriver (no downloads)."""
    options = AppiumOptions()
    options.set_capability("platformName", _host_platform())
    options.set_capability("browserName", "chrome")
    options.automation_name = "Chromium"
    options.set_capability("appium:executable", device.chromedriver)
    options.set_capability("appium:autodownloadEnabled", False)
    if chromedriver_port is not None:
        # concurrent sessions each need their own chromedriver
        options.set_capability("appium:chromedriverPort", chromedriver_port)
    args = [a for a in CHROMIUM_ARGS if device.headless or a != "--headless=new"]
    args.append(f"--user-data-dir={user_data_dir}")
    chrome_options: dict[str, object] = {"binary": device.binary, "args": args}
    if device.emulate is not None:
        chrome_options["mobileEmulation"] = {"deviceName": device.emulate}
    elif device.width is not None and device.height is not None:
        emulation: dict[str, object] = {
            "deviceMetrics": {
                "width": device.width,
                "height": device.height,
                "pixelRatio": device.pixel_ratio or 1.0,
                "touch": True,
            }
        }
        if device.user_agent is not None:
            emulation["userAgent"] = device.user_agent
        chrome_options["mobileEmulation"] = emulation
    options.set_capability("goog:chromeOptions", chrome_options)
    return options


def _emulator_args(profile: NetworkProfileLike) -> str:
    up = max(1, round(profile.up_kbit)) if profile.up_kbit else 0
    down = max(1, round(profile.down_kbit)) if profile.down_kbit else 0
    # the emulator takes one "up:down" pair; an unlimited side gets the fastest named speed (evdo)
    speed = f"{up or 75000}:{down or 280000}" if up or down else "full"
    return f"-netspeed {speed} -netdelay {max(0, round(profile.rtt_ms))}"


def android_options(device: AndroidDevice, profile: NetworkProfileLike | None) -> SessionSetup:
    options = UiAutomator2Options()
    options.device_name = device.device_name
    if device.platform_version is not None:
        options.platform_version = device.platform_version
    if device.app is not None:
        options.app = device.app
    if device.app_package is not None:
        options.app_package = device.app_package
    if device.app_activity is not None:
        options.app_activity = device.app_activity
    if device.udid is not None:
        options.udid = device.udid
    setup = SessionSetup(options=options)
    if device.avd is None:
        if profile is not None:
            setup.network_applied = False
            setup.notice = f"network profile {profile.name!r} not applied: real Android device (no emulator)"
        return setup
    options.avd = device.avd
    if profile is not None:
        options.avd_args = _emulator_args(profile)
        setup.network_via = "emulator"
        parts = [f"network profile {profile.name!r} applied through emulator -netspeed/-netdelay"]
        if device.netspeed is not None or device.netdelay_ms is not None:
            parts.append("device netspeed/netdelay_ms overridden")
        if profile.loss_pct > 0:
            parts.append(f"loss {profile.loss_pct}% not emulated")
        setup.notice = "; ".join(parts)
        return setup
    args = []
    if device.netspeed in EMULATOR_NETSPEEDS:
        options.network_speed = device.netspeed
    elif device.netspeed is not None:  # "up:down" kbit/s, which the networkSpeed capability does not take
        args.append(f"-netspeed {device.netspeed}")
    if device.netdelay_ms is not None:
        args.append(f"-netdelay {device.netdelay_ms}")
    if args:
        options.avd_args = " ".join(args)
    if device.netspeed is not None or device.netdelay_ms is not None:
        setup.network_via = "emulator"
        setup.notice = f"emulator network: speed {device.netspeed or 'full'}, delay {device.netdelay_ms or 0} ms"
    return setup


def ios_options(device: IosDevice, profile: NetworkProfileLike | None) -> SessionSetup:
    options = XCUITestOptions()
    options.device_name = device.device_name
    if device.platform_version is not None:
        options.platform_version = device.platform_version
    if device.bundle_id is not None:
        options.bundle_id = device.bundle_id
    if device.app is not None:
        options.app = device.app
    if device.udid is not None:
        options.udid = device.udid
    setup = SessionSetup(options=options)
    if profile is not None:
        where = "iOS simulator (shape the host network instead)" if device.simulator else "real iOS device"
        setup.network_applied = False
        setup.notice = f"network profile {profile.name!r} not applied: {where}"
    return setup


def remote_options(device: RemoteDevice, profile: NetworkProfileLike | None) -> SessionSetup:
    setup = SessionSetup(options=AppiumOptions().load_capabilities(dict(device.capabilities)), server_url=device.url)
    if profile is not None:
        setup.network_applied = False
        setup.notice = f"network profile {profile.name!r} not applied: remote device {device.url}"
    return setup


def build_session(
    device: Device,
    *,
    profile: NetworkProfileLike | None = None,
    chromedriver_port: int | None = None,
    user_data_dir: Path | None = None,
    new_command_timeout_s: int = 60,
) -> SessionSetup:
    """Options for one session on ``device``; a fresh Chromium profile folder is made unless given."""
    if isinstance(device, ChromiumDevice):
        temp_dirs: list[Path] = []
        if user_data_dir is None:
            user_data_dir = Path(tempfile.mkdtemp(prefix=f"rehearse-chromium-{device.name}-"))
            temp_dirs.append(user_data_dir)
        options = chromium_options(device, chromedriver_port=chromedriver_port, user_data_dir=user_data_dir)
        setup = SessionSetup(options=options, network_via="cdp", temp_dirs=temp_dirs)
    elif isinstance(device, AndroidDevice):
        setup = android_options(device, profile)
    elif isinstance(device, IosDevice):
        setup = ios_options(device, profile)
    else:
        setup = remote_options(device, profile)
    # an abandoned session (harness killed) ends on its own instead of holding a browser or device
    if setup.options.new_command_timeout is None:
        setup.options.new_command_timeout = new_command_timeout_s
    return setup
