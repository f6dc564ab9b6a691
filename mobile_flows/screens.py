"""One small class per screen of the app: its locators and actions; actions return the next screen.

Screens know nothing about budgets, files or Appium servers. Every wait is bounded by the context's
timeout and raises ``StepFailed`` with a message that names the element and never a typed value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from appium.webdriver.webdriver import WebDriver
from appium.webdriver.webelement import WebElement
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.support.wait import WebDriverWait

from mobile_flows.locators import Locator, describe

_T = TypeVar("_T")


class StepFailed(Exception):
    """A screen did not behave as the critical path expects; the message is safe to save and show."""


@dataclass
class ScreenContext:
    """What every screen needs: the session, where things are, and how long any wait may take."""

    driver: WebDriver
    locators: Mapping[str, Locator]
    timeout_s: float = 20.0
    poll_s: float = 0.025

    def locator(self, key: str) -> Locator | None:
        return self.locators.get(key)

    def _require(self, key: str) -> Locator:
        locator = self.locators.get(key)
        if locator is None:
            raise StepFailed(f"no locator for {key!r}")
        return locator

    def visible(self, key: str) -> list[WebElement]:
        """Elements for ``key`` that are displayed now (an unknown key has none)."""
        locator = self.locators.get(key)
        if locator is None:
            return []
        shown = []
        for element in self.driver.find_elements(*locator):
            try:
                if element.is_displayed():
                    shown.append(element)
            except StaleElementReferenceException:
                continue
        return shown

    def wait(self, condition: Callable[[WebDriver], _T | None], what: str, timeout_s: float | None = None) -> _T:
        """Poll ``condition`` until it returns something truthy, at most ``timeout_s`` seconds."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        waiter: WebDriverWait[WebDriver] = WebDriverWait(
            self.driver,
            limit,
            poll_frequency=self.poll_s,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        )
        try:
            result: _T = waiter.until(lambda d: condition(d) or False)
        except TimeoutException as exc:
            raise StepFailed(f"timed out after {limit:g} s waiting for {what}") from exc
        return result

    def wait_visible(self, key: str, timeout_s: float | None = None) -> WebElement:
        locator = self._require(key)

        def shown(_: WebDriver) -> WebElement | None:
            elements = self.visible(key)
            return elements[0] if elements else None

        return self.wait(shown, f"{key} ({describe(locator)}) to be visible", timeout_s)

    def wait_first_visible(self, keys: tuple[str, ...], timeout_s: float | None = None) -> str:
        """Wait until one of ``keys`` is visible and return which (keys without a locator are skipped)."""
        known = tuple(k for k in keys if k in self.locators)
        if not known:
            raise StepFailed(f"no locators for any of {', '.join(keys)}")

        def first(_: WebDriver) -> str | None:
            return next((k for k in known if self.visible(k)), None)

        return self.wait(first, " or ".join(f"{k} ({describe(self.locators[k])})" for k in known), timeout_s)

    def wait_gone(self, key: str, timeout_s: float | None = None) -> None:
        locator = self._require(key)
        self.wait(lambda _: not self.visible(key), f"{key} ({describe(locator)}) to go away", timeout_s)

    def tap(self, key: str) -> None:
        self.wait_visible(key).click()

    def type_into(self, key: str, text: str) -> None:
        field = self.wait_visible(key)
        field.clear()
        field.send_keys(text)

    def text_of(self, key: str) -> str:
        elements = self.visible(key)
        try:
            return " ".join(e.text for e in elements).strip()
        except WebDriverException:
            return ""


class LoginScreen:
    """The first screen: email, password, sign-in button, and an error line."""

    def __init__(self, ctx: ScreenContext) -> None:
        self.ctx = ctx

    def wait_until_shown(self) -> LoginScreen:
        self.ctx.wait_visible("login_screen")
        return self

    def fill(self, username: str, password: str) -> LoginScreen:
        self.ctx.type_into("email", username)
        try:
            self.ctx.type_into("password", password)
        except WebDriverException as exc:  # the driver's message could echo the typed value
            raise StepFailed(f"could not type into the password field ({type(exc).__name__})") from None
        return self

    def tap_sign_in(self) -> DashboardScreen:
        self.ctx.tap("login_button")
        return DashboardScreen(self.ctx)


class DashboardScreen:
    """Shown after sign-in; its data marker appears once the dashboard API call has rendered."""

    def __init__(self, ctx: ScreenContext) -> None:
        self.ctx = ctx

    def wait_until_shown(self) -> DashboardScreen:
        """Wait until the app accepted (dashboard) or rejected (login error) the sign-in."""
        ctx = self.ctx
        if ctx.locator("dashboard_screen") is None and ctx.locator("login_error") is None:
            ctx.wait_gone("login_screen")
            return self
        seen = ctx.wait_first_visible(("dashboard_screen", "login_error", "dashboard_data"))
        if seen == "login_error":
            raise StepFailed(f"sign-in rejected: {ctx.text_of('login_error') or 'error shown'}")
        return self

    def wait_for_data(self) -> DashboardScreen:
        self.ctx.wait_visible("dashboard_data")
        return self

    def open_new_job(self) -> NewJobScreen:
        self.ctx.tap("new_job_button")
        return NewJobScreen(self.ctx)


@dataclass
class JobOutcome:
    """What the new-job screen showed after one tap on submit."""

    success_count: int
    error: str
    retry_shown: bool
    job_id: str = ""
    client_ref: str = ""


class NewJobScreen:
    """Title field and submit; success, error and retry messages."""

    def __init__(self, ctx: ScreenContext) -> None:
        self.ctx = ctx

    def wait_until_shown(self) -> NewJobScreen:
        self.ctx.wait_visible("job_title")
        return self

    def submit(self, title: str) -> NewJobScreen:
        self.ctx.type_into("job_title", title)
        self.ctx.tap("job_submit")
        return self

    def wait_for_outcome(self) -> JobOutcome:
        """Wait for success or error, then report exactly what is on screen."""
        self.ctx.wait_first_visible(("job_success", "job_error", "job_retry"))
        return self.outcome()

    def outcome(self) -> JobOutcome:
        ctx = self.ctx
        successes = ctx.visible("job_success")
        job_id = client_ref = ""
        if len(successes) == 1:
            job_id = _attribute(successes[0], "data-job-id")
            client_ref = _attribute(successes[0], "data-client-ref")
        return JobOutcome(
            success_count=len(successes),
            error=ctx.text_of("job_error") if ctx.visible("job_error") else "",
            retry_shown=bool(ctx.visible("job_retry")),
            job_id=job_id,
            client_ref=client_ref,
        )


def _attribute(element: WebElement, name: str) -> str:
    try:
        value = element.get_attribute(name)
    except WebDriverException:
        return ""
    return value if isinstance(value, str) else ""


def settle(seconds: float) -> None:
    """A short pause before re-checking the screen, to catch a duplicate success or a late retry."""
    time.sleep(seconds)
