"""The plan's mobile: section, the capabilities built per device kind, and the small pure helpers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from appium.options.common import AppiumOptions
from pydantic import ValidationError

from harness.errors import DeviceError, PlanError
from harness.mobile.appium_server import AppiumServer, free_ports
from harness.mobile.cdp import network_conditions
from harness.mobile.config import MobileConfig
from harness.mobile.devices import SessionSetup, build_session
from mobile_flows.locators import parse_locator
from tests.mobile_demo import DEMO_WEB_LOCATORS

ANDROID_LOCATORS = {
    "login_screen": "id:com.example:id/login",
    "email": "id:com.example:id/email",
    "password": "id:com.example:id/password",
    "login_button": "accessibility_id:Sign in",
    "dashboard_data": "xpath://*[@resource-id='com.example:id/data']",
    "new_job_button": "accessibility_id:New job",
    "job_title": "id:com.example:id/title",
    "job_submit": "accessibility_id:Create job",
    "job_success": "accessibility_id:Job created",
    "job_error": "accessibility_id:Job error",
}


WEB: dict[str, Any] = {"locators": {"chromium": DEMO_WEB_LOCATORS.model_dump()}}


@dataclass
class Profile:
    name: str = "3g"
    rtt_ms: float = 300.0
    down_kbit: float = 1600.0
    up_kbit: float = 768.0
    loss_pct: float = 0.0


def config(**overrides: Any) -> MobileConfig:
    data: dict[str, Any] = {
        "devices": [{"name": "pixel-web", "kind": "chromium", "emulate": "Pixel 7"}],
        "locators": {"chromium": DEMO_WEB_LOCATORS.model_dump()},
    }
    data.update(overrides)
    return MobileConfig.model_validate(data)


def device_of(**device: Any) -> Any:
    locators = {"android": ANDROID_LOCATORS, "ios": ANDROID_LOCATORS, "chromium": DEMO_WEB_LOCATORS.model_dump()}
    return MobileConfig.model_validate({"devices": [device], "locators": locators}).devices[0]


def wire_caps(setup: SessionSetup) -> dict[str, Any]:
    """The capabilities as sent in the new-session request (W3C, vendor-prefixed)."""
    caps: dict[str, Any] = AppiumOptions.as_w3c(setup.options.to_capabilities())["capabilities"]["alwaysMatch"]
    return caps


def errors_of(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        MobileConfig.model_validate(data)
    return str(info.value)


# ---- validation ------------------------------------------------------------------------------------


def test_chromium_device_needs_locators_from_the_plan() -> None:
    message = errors_of({"devices": [{"name": "pixel-web", "kind": "chromium"}]})
    assert "locators.chromium" in message


def test_minimal_config_defaults() -> None:
    cfg = config()
    assert cfg.token_storage_key is None and cfg.login_url is None
    assert cfg.appium_url is None
    assert cfg.app_path == "/app/"
    assert cfg.budgets_ms.dashboard == 3000
    assert cfg.credentials.password_env == "REHEARSE_PASSWORD"
    assert cfg.locators.chromium == DEMO_WEB_LOCATORS
    assert cfg.locators.chromium.dashboard_data == "#dashboard-data[data-loaded='true']"


def test_bad_kind_is_rejected() -> None:
    message = errors_of({"devices": [{"name": "x", "kind": "blackberry"}]})
    assert "blackberry" in message
    assert "chromium" in message  # names what is allowed


@pytest.mark.parametrize(
    "data",
    [
        {"devices": [{"name": "x", "kind": "chromium"}], "apium_url": "http://h"},
        {"devices": [{"name": "x", "kind": "chromium", "emulation": "Pixel 7"}]},
        {"devices": [{"name": "x", "kind": "chromium"}], "budgets_ms": {"dashbord": 1}},
        {"devices": [{"name": "x", "kind": "chromium"}], "locators": {"chromium": {"login": "#l"}}},
    ],
)
def test_unknown_keys_are_rejected(data: dict[str, Any]) -> None:
    assert "Extra inputs are not permitted" in errors_of(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"devices": []}, "at least 1"),
        ({"devices": [{"name": "a", "kind": "chromium"}] * 2}, "unique"),
        ({"devices": [{"name": "a", "kind": "chromium", "emulate": "Pixel 7", "width": 400}]}, "not both"),
        ({"devices": [{"name": "a", "kind": "chromium", "width": 400}]}, "width and height"),
        ({"devices": [{"name": "a", "kind": "chromium"}], "verify_write_url": "/api/jobs"}, "{client_ref}"),
        ({"devices": [{"name": "a", "kind": "chromium"}], "budgets_ms": {"login": 0}}, "greater than 0"),
        ({"devices": [{"name": "a", "kind": "chromium"}], "step_timeout_s": 4}, "largest budget"),
        ({"devices": [{"name": "a", "kind": "chromium"}], "credentials": {"password_env": "hunter 2"}}, "NAME"),
        ({"devices": [{"name": "a", "kind": "android", "app": "/a.apk", "avd": "P"}]}, "locators.android"),
        ({"devices": [{"name": "a", "kind": "remote", "url": "ftp://x", "capabilities": {"a": 1}}]}, "http"),
        (
            {
                "devices": [{"name": "a", "kind": "chromium"}],
                "locators": {"chromium": {**DEMO_WEB_LOCATORS.model_dump(), "email": "accessibility_id:Email"}},
            },
            "does not work in a browser",
        ),
    ],
)
def test_invalid_values_name_the_problem(data: dict[str, Any], expected: str) -> None:
    assert expected in errors_of(data)


def test_android_needs_an_app_and_a_target() -> None:
    locators = {"android": ANDROID_LOCATORS}
    assert "app_package" in errors_of({"devices": [{"name": "a", "kind": "android", "avd": "P"}], "locators": locators})
    assert "udid" in errors_of({"devices": [{"name": "a", "kind": "android", "app": "/a"}], "locators": locators})
    bad_speed = {"name": "a", "kind": "android", "app": "/a", "avd": "P", "netspeed": "warp"}
    assert "netspeed" in errors_of({"devices": [bad_speed], "locators": locators})
    real = {"name": "a", "kind": "android", "app": "/a", "udid": "R5", "netdelay_ms": 100}
    assert "emulators" in errors_of({"devices": [real], "locators": locators})


def test_plan_example_validates() -> None:
    cfg = MobileConfig.model_validate(
        {
            "appium_url": None,
            "credentials": {"username_env": "REHEARSE_USER", "password_env": "REHEARSE_PASSWORD"},
            "app_path": "/app/",
            "budgets_ms": {"app_open": 5000, "login": 3000, "dashboard": 3000, "write": 3000},
            "verify_write_url": "/api/jobs?client_ref={client_ref}",
            "devices": [
                {"name": "pixel-web", "kind": "chromium", "emulate": "Pixel 7"},
                {
                    "name": "small",
                    "kind": "chromium",
                    "width": 360,
                    "height": 740,
                    "pixel_ratio": 3,
                    "user_agent": "Mozilla/5.0 (Linux; Android 14)",
                },
                {
                    "name": "pixel-emu",
                    "kind": "android",
                    "app": "/p/app.apk",
                    "avd": "Pixel_7",
                    "netspeed": "lte",
                    "netdelay_ms": 100,
                },
                {"name": "iphone", "kind": "ios", "bundle_id": "com.example.app", "udid": "AB12", "simulator": True},
                {
                    "name": "farm",
                    "kind": "remote",
                    "url": "https://farm.example/wd/hub",
                    "capabilities": {"platformName": "Android", "appium:appPackage": "com.example"},
                },
            ],
            "locators": {
                "android": ANDROID_LOCATORS,
                "ios": ANDROID_LOCATORS,
                "chromium": DEMO_WEB_LOCATORS.model_dump(),
            },
        }
    )
    assert [d.platform for d in cfg.devices] == ["chromium", "chromium", "android", "ios", "android"]


# ---- locators --------------------------------------------------------------------------------------


def test_locator_prefixes() -> None:
    assert parse_locator("#login-screen", "chromium") == ("css selector", "#login-screen")
    assert parse_locator("a:hover", "chromium") == ("css selector", "a:hover")  # not a prefix
    assert parse_locator("xpath://button[1]", "chromium") == ("xpath", "//button[1]")
    assert parse_locator("id:email", "chromium") == ("css selector", '[id="email"]')  # Chromium has no "id"
    assert parse_locator("id:com.example:id/login", "android") == ("id", "com.example:id/login")
    assert parse_locator("com.example:id/login", "android") == ("id", "com.example:id/login")
    assert parse_locator("Sign in", "ios") == ("accessibility id", "Sign in")
    assert parse_locator("accessibility_id:Sign in", "android") == ("accessibility id", "Sign in")
    with pytest.raises(ValueError, match="nothing after"):
        parse_locator("xpath:", "android")


# ---- capabilities per kind -------------------------------------------------------------------------


def test_chromium_capabilities(tmp_path: Path) -> None:
    device = config().devices[0]
    setup = build_session(device, chromedriver_port=9555, user_data_dir=tmp_path)
    caps = wire_caps(setup)
    assert caps["browserName"] == "chrome"
    assert caps["platformName"] == "linux"
    assert caps["appium:automationName"] == "Chromium"
    assert caps["appium:executable"] == "/usr/bin/chromedriver"
    assert caps["appium:chromedriverPort"] == 9555
    assert caps["appium:autodownloadEnabled"] is False
    chrome = caps["goog:chromeOptions"]
    assert chrome["binary"] == "/usr/bin/chromium"
    assert chrome["mobileEmulation"] == {"deviceName": "Pixel 7"}
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):  # fmt: skip
        assert flag in chrome["args"]
    assert f"--user-data-dir={tmp_path}" in chrome["args"]
    assert setup.network_via == "cdp"
    assert setup.temp_dirs == []  # the caller's folder is not ours to delete


def test_chromium_metrics_and_own_profile_folder() -> None:
    device = MobileConfig.model_validate(
        {
            "devices": [{"name": "s", "kind": "chromium", "width": 360, "height": 740, "user_agent": "UA/1"}],
            "locators": {"chromium": DEMO_WEB_LOCATORS.model_dump()},
        }
    ).devices[0]
    setup = build_session(device)
    try:
        emulation = wire_caps(setup)["goog:chromeOptions"]["mobileEmulation"]
        assert emulation == {"deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 1.0, "touch": True},
                             "userAgent": "UA/1"}  # fmt: skip
        assert len(setup.temp_dirs) == 1 and setup.temp_dirs[0].is_dir()
    finally:
        setup.cleanup()
    assert not any(p.exists() for p in setup.temp_dirs)


def test_android_emulator_capabilities() -> None:
    device = device_of(name="emu", kind="android", app="/p/app.apk", avd="Pixel_7", netspeed="lte", netdelay_ms=100)
    setup = build_session(device)
    caps = wire_caps(setup)
    assert caps["platformName"] == "Android"
    assert caps["appium:automationName"] == "UIAutomator2"
    assert caps["appium:app"] == "/p/app.apk"
    assert caps["appium:avd"] == "Pixel_7"
    assert caps["appium:networkSpeed"] == "lte"
    assert caps["appium:avdArgs"] == "-netdelay 100"
    assert caps["appium:newCommandTimeout"] == 60
    assert setup.network_via == "emulator" and setup.network_applied


def test_android_profile_goes_to_the_emulator_not_to_a_real_device() -> None:
    emu = device_of(name="emu", kind="android", app_package="com.example", app_activity=".Main", avd="Pixel_7")
    setup = build_session(emu, profile=Profile(loss_pct=1.0))
    caps = wire_caps(setup)
    assert caps["appium:avdArgs"] == "-netspeed 768:1600 -netdelay 300"
    assert caps["appium:appPackage"] == "com.example" and caps["appium:appActivity"] == ".Main"
    assert setup.network_applied and "loss" in setup.notice

    real = device_of(name="real", kind="android", app="/a.apk", udid="R58M")
    setup = build_session(real, profile=Profile())
    caps = wire_caps(setup)
    assert caps["appium:udid"] == "R58M" and "appium:avd" not in caps
    assert not setup.network_applied
    assert "not applied" in setup.notice and "real Android device" in setup.notice


def test_ios_capabilities() -> None:
    device = device_of(name="iphone", kind="ios", bundle_id="com.example.app", udid="AB12", platform_version="17.4")
    setup = build_session(device, profile=Profile())
    caps = wire_caps(setup)
    assert caps["platformName"] == "iOS"
    assert caps["appium:automationName"] == "XCUITest"
    assert caps["appium:bundleId"] == "com.example.app"
    assert caps["appium:udid"] == "AB12"
    assert caps["appium:platformVersion"] == "17.4"
    assert not setup.network_applied and "not applied" in setup.notice


def test_remote_capabilities_pass_through() -> None:
    remote = {"platformName": "Android", "appium:deviceName": "Galaxy S23", "bstack:options": {"os": "android"}}
    device = device_of(name="farm", kind="remote", url="https://farm.example/wd/hub", capabilities=remote)
    setup = build_session(device, profile=Profile())
    caps = wire_caps(setup)
    assert caps["platformName"] == "Android"
    assert caps["appium:deviceName"] == "Galaxy S23"
    assert caps["bstack:options"] == {"os": "android"}
    assert setup.server_url == "https://farm.example/wd/hub"
    assert not setup.network_applied and "remote device" in setup.notice
    assert build_session(device).network_applied  # no profile asked for, nothing missing


# ---- small helpers ---------------------------------------------------------------------------------


def test_network_conditions_in_devtools_units() -> None:
    assert network_conditions(None) == {"offline": False, "latency": 0, "downloadThroughput": -1,
                                        "uploadThroughput": -1}  # fmt: skip
    params = network_conditions(Profile(rtt_ms=400, down_kbit=1600, up_kbit=0, loss_pct=2))
    assert params["latency"] == 400
    assert params["downloadThroughput"] == 200_000  # bytes/s
    assert params["uploadThroughput"] == -1  # 0 means unlimited
    assert params["packetLoss"] == 2


def test_free_ports_are_distinct() -> None:
    ports = free_ports(4)
    assert len(set(ports)) == 4 and all(p > 0 for p in ports)


def test_appium_server_without_install_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match=r"setup_mobile\.sh"):
        AppiumServer(tmp_path).start()


def test_missing_credentials_are_a_plan_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.mobile.runner import run_mobile

    monkeypatch.setenv("REHEARSE_T_USER", "u@example.com")
    monkeypatch.delenv("REHEARSE_T_PASS", raising=False)
    cfg = config(credentials={"username_env": "REHEARSE_T_USER", "password_env": "REHEARSE_T_PASS"})
    with pytest.raises(PlanError, match="REHEARSE_T_PASS") as info:
        run_mobile(cfg, "http://127.0.0.1:9", tmp_path)
    assert info.value.key == "mobile.credentials.password_env"


def test_unreachable_appium_is_a_device_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.mobile.runner import run_mobile

    monkeypatch.setenv("REHEARSE_T_USER", "u@example.com")
    monkeypatch.setenv("REHEARSE_T_PASS", "pw")
    cfg = config(
        appium_url="http://127.0.0.1:9",  # discard port: nothing listens
        credentials={"username_env": "REHEARSE_T_USER", "password_env": "REHEARSE_T_PASS"},
    )
    with pytest.raises(DeviceError, match="unreachable"):
        run_mobile(cfg, "http://127.0.0.1:9", tmp_path)


def test_parse_mobile_config_names_the_key() -> None:
    from harness.mobile.config import parse_mobile_config

    with pytest.raises(PlanError) as info:
        parse_mobile_config({"devices": [{"name": "ok", "kind": "chromium"}, {"name": "x", "kind": "nokia"}], **WEB},
                            path="plan.yaml")  # fmt: skip
    assert info.value.key is not None and info.value.key.startswith("mobile.devices[1]")
    assert str(info.value).startswith("plan.yaml: mobile.devices[1]")
    assert parse_mobile_config({"devices": [{"name": "ok", "kind": "chromium"}], **WEB}).devices[0].name == "ok"
