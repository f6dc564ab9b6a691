"""The plan's ``mobile:`` section: which devices walk the critical path, where the app is, what budgets apply.

Every model forbids unknown keys so a typo in the plan is an error naming the key, not a silent default.
Chromium locators default to the bundled demo app's DOM contract, so the bundled plan needs none.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import PlanError
from mobile_flows.locators import Platform, parse_locator

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Android emulator -netspeed names (see network-presets.md: Android emulator)
EMULATOR_NETSPEEDS = ("full", "gsm", "hscsd", "gprs", "umts", "edge", "hsdpa", "lte", "evdo")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(_Model):
    """Names of the environment variables holding the test user's login; the values never enter the plan."""

    username_env: str = "REHEARSE_USER"
    password_env: str = "REHEARSE_PASSWORD"

    @field_validator("username_env", "password_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name (give the NAME, not the secret)")
        return value


class Budgets(_Model):
    """Per-step budgets in milliseconds."""

    app_open: float = Field(default=5000.0, gt=0)
    login: float = Field(default=3000.0, gt=0)
    dashboard: float = Field(default=3000.0, gt=0)
    write: float = Field(default=3000.0, gt=0)


class Locators(_Model):
    """Where each element of the critical path lives on one platform ("id:", "accessibility_id:", "xpath:",
    "css:" prefixes; no prefix = CSS in a browser, resource id on Android, accessibility id on iOS).

    ``login_error`` and ``dashboard_screen`` are optional: with them the login step ends as soon as the app
    accepts or rejects the login; without them it ends when the login screen goes away.
    """

    login_screen: str
    email: str
    password: str
    login_button: str
    dashboard_data: str
    new_job_button: str
    job_title: str
    job_submit: str
    job_success: str
    job_error: str
    job_retry: str | None = None
    login_error: str | None = None
    dashboard_screen: str | None = None


class LocatorSets(_Model):
    # no defaults: every app maps its own screens in the plan (the bundled demo's are in scenarios/plans/demo.yaml)
    chromium: Locators | None = None
    android: Locators | None = None
    ios: Locators | None = None

    @model_validator(mode="after")
    def _parse_all(self) -> LocatorSets:
        for platform in ("chromium", "android", "ios"):
            locators: Locators | None = getattr(self, platform)
            if locators is None:
                continue
            for key, spec in locators.model_dump().items():
                if spec is None:
                    continue
                try:
                    parse_locator(spec, platform)
                except ValueError as exc:
                    raise ValueError(f"{platform}.{key}: {exc}") from exc
        return self

    def for_platform(self, platform: Platform) -> Locators:
        locators: Locators | None = getattr(self, platform)
        if locators is None:  # checked by MobileConfig; kept for callers building configs by hand
            raise ValueError(f"no locators for platform {platform!r}")
        return locators


class _DeviceBase(_Model):
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class ChromiumDevice(_DeviceBase):
    """Headless Chromium through appium-chromium-driver, optionally emulating a phone."""

    kind: Literal["chromium"]
    emulate: str | None = None  # a chromedriver device name, e.g. "Pixel 7"
    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)
    pixel_ratio: float | None = Field(default=None, gt=0)
    user_agent: str | None = None
    headless: bool = True
    binary: str = "/usr/bin/chromium"
    chromedriver: str = "/usr/bin/chromedriver"

    @model_validator(mode="after")
    def _emulation(self) -> ChromiumDevice:
        metrics = (self.width, self.height, self.pixel_ratio)
        if self.emulate is not None and (any(m is not None for m in metrics) or self.user_agent is not None):
            raise ValueError("give either emulate (a device name) or width/height/pixel_ratio/user_agent, not both")
        if any(m is not None for m in metrics) and (self.width is None or self.height is None):
            raise ValueError("width and height go together (pixel_ratio defaults to 1)")
        return self

    @property
    def platform(self) -> Platform:
        return "chromium"


class AndroidDevice(_DeviceBase):
    """A native Android app through UiAutomator2, on an emulator (``avd``) or a real device (``udid``)."""

    kind: Literal["android"]
    app: str | None = None
    app_package: str | None = None
    app_activity: str | None = None
    avd: str | None = None
    udid: str | None = None
    device_name: str = "Android"
    platform_version: str | None = None
    netspeed: str | None = None
    netdelay_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _target(self) -> AndroidDevice:
        if self.app is None and self.app_package is None:
            raise ValueError("give app (path or URL of an .apk) or app_package (+ app_activity)")
        if self.avd is None and self.udid is None:
            raise ValueError("give avd (emulator name) or udid (device serial)")
        if self.netspeed is not None and not re.fullmatch(r"\d+(:\d+)?|" + "|".join(EMULATOR_NETSPEEDS), self.netspeed):
            raise ValueError(
                f"netspeed {self.netspeed!r}: use one of {', '.join(EMULATOR_NETSPEEDS)} or up:down kbit/s"
            )
        if (self.netspeed is not None or self.netdelay_ms is not None) and self.avd is None:
            raise ValueError("netspeed/netdelay_ms only apply to emulators (set avd)")
        return self

    @property
    def platform(self) -> Platform:
        return "android"


class IosDevice(_DeviceBase):
    """A native iOS app through XCUITest, on a simulator or a real device."""

    kind: Literal["ios"]
    bundle_id: str | None = None
    app: str | None = None
    udid: str | None = None
    simulator: bool = True
    device_name: str = "iPhone"
    platform_version: str | None = None

    @model_validator(mode="after")
    def _target(self) -> IosDevice:
        if self.bundle_id is None and self.app is None:
            raise ValueError("give bundle_id or app (path of an .app/.ipa)")
        if not self.simulator and self.udid is None:
            raise ValueError("a real device (simulator: false) needs its udid")
        return self

    @property
    def platform(self) -> Platform:
        return "ios"


class RemoteDevice(_DeviceBase):
    """A device farm or any other Appium endpoint; capabilities are passed through as given."""

    kind: Literal["remote"]
    url: str = Field(pattern=r"^https?://")
    capabilities: dict[str, Any] = Field(min_length=1)
    locators: Platform | None = None  # which locator set to use; default from capabilities' platformName

    @property
    def platform(self) -> Platform:
        if self.locators is not None:
            return self.locators
        name = str(self.capabilities.get("platformName", "")).lower()
        if name == "android" and not self.capabilities.get("browserName"):
            return "android"
        if name == "ios" and not self.capabilities.get("browserName"):
            return "ios"
        return "chromium"


_DEVICE_KINDS = ("chromium", "android", "ios", "remote")
Device = Annotated[ChromiumDevice | AndroidDevice | IosDevice | RemoteDevice, Field(discriminator="kind")]


class MobileConfig(_Model):
    """The plan's ``mobile:`` section."""

    appium_url: str | None = Field(default=None, pattern=r"^https?://")  # None: local server from .appium
    appium_home: str | None = None  # None: $REHEARSE_APPIUM_HOME or the repo's .appium folder
    credentials: Credentials = Field(default_factory=Credentials)
    app_path: str = "/app/"
    budgets_ms: Budgets = Field(default_factory=Budgets)
    verify_write_url: str | None = None  # e.g. "/api/jobs?client_ref={client_ref}"
    # verify_write's bearer token: the flow's own, read from the browser's storage under this key, else
    # a fresh login as the same user at login_url ({"email", "password"} -> {"token"})
    token_storage_key: str | None = None
    login_url: str | None = None
    job_title: str = "rehearse smoke job"
    step_timeout_s: float = Field(default=20.0, gt=0, le=300)  # the longest any single wait may take
    session_timeout_s: float = Field(default=60.0, gt=0, le=600)  # session start and each Appium HTTP call
    parallel: int = Field(default=1, ge=1, le=4)  # sessions at once; measured: keep to <= 2 on 2 cores
    devices: list[Device] = Field(min_length=1)
    locators: LocatorSets = Field(default_factory=LocatorSets)

    @field_validator("verify_write_url")
    @classmethod
    def _verify_template(cls, value: str | None) -> str | None:
        if value is not None and "{client_ref}" not in value:
            raise ValueError("must contain {client_ref}, e.g. /api/jobs?client_ref={client_ref}")
        return value

    @model_validator(mode="after")
    def _timeouts(self) -> MobileConfig:
        longest = max(self.budgets_ms.model_dump().values())
        if self.step_timeout_s * 1000 <= longest:
            raise ValueError(
                f"step_timeout_s ({self.step_timeout_s:g} s) must be longer than the largest budget "
                f"({longest:g} ms), so a slow step is measured rather than cut off"
            )
        return self

    @model_validator(mode="after")
    def _devices(self) -> MobileConfig:
        names = [d.name for d in self.devices]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"device names must be unique: {', '.join(dupes)}")
        for device in self.devices:
            if getattr(self.locators, device.platform) is None:
                raise ValueError(
                    f"device {device.name!r} ({device.kind}) needs locators.{device.platform} "
                    "(map your app's screens there)"
                )
        return self


def parse_mobile_config(data: Any, *, path: str | None = None) -> MobileConfig:
    """Validate the plan's ``mobile:`` mapping; a bad value becomes one PlanError naming its key."""
    try:
        return MobileConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        parts: list[str] = ["mobile"]
        previous: object = None
        for part in first["loc"]:
            # pydantic puts the union's tag ("chromium") after the list index; the plan has no such key
            if not (isinstance(previous, int) and part in _DEVICE_KINDS):
                parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
            previous = part
        key = "".join(parts)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PlanError(f"{first['msg']}{more}", path=path, key=key) from exc
