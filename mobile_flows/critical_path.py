"""The critical path a prospect walks in a demo: open the app, sign in, see the dashboard, create a job.

Each step is timed into a ``MobileStep``. The first failing step (broken screen, timeout or budget breach)
stops the flow; later steps are reported as not run. Evidence (screenshot, page source) is saved through a
hook so this module stays free of files, servers and secrets handling.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from selenium.common.exceptions import WebDriverException

from harness.model import MobileStep
from mobile_flows.screens import (
    DashboardScreen,
    JobOutcome,
    LoginScreen,
    NewJobScreen,
    ScreenContext,
    StepFailed,
    settle,
)

FLOW_NAME = "critical_path"
STEPS = ("app_open", "login", "dashboard", "write")


def _identity(text: str) -> str:
    return text


@dataclass
class FlowHooks:
    """What the flow asks of its runner.

    launch: open the app (navigate, or activate the native app).
    evidence: save a screenshot and page source for a step; returns their paths ("" when not saved).
    verify_write: check server-side what the app claims it wrote; returns "" when fine, else the problem.
    redact: scrub secrets from any text the flow reports.
    """

    launch: Callable[[], None]
    evidence: Callable[[str], tuple[str, str]] = lambda _step: ("", "")
    verify_write: Callable[[JobOutcome], str] | None = None
    redact: Callable[[str], str] = _identity


@dataclass
class FlowInput:
    username: str
    password: str = field(repr=False)
    job_title: str = "rehearse smoke job"
    budgets_ms: Mapping[str, float] = field(default_factory=dict)
    settle_s: float = 0.2


class _Failed(Exception):
    def __init__(self, message: str, duration_ms: float) -> None:
        super().__init__(message)
        self.duration_ms = duration_ms


def _ms_since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _driver_error(exc: WebDriverException) -> str:
    first_line = (exc.msg or str(exc) or type(exc).__name__).strip().splitlines()
    return f"driver error: {type(exc).__name__}: {first_line[0][:300] if first_line else ''}"


class _CriticalPath:
    def __init__(self, ctx: ScreenContext, given: FlowInput, hooks: FlowHooks) -> None:
        self.ctx = ctx
        self.given = given
        self.hooks = hooks
        self.tapped_sign_in = 0.0
        self.dashboard_screen: DashboardScreen | None = None

    def app_open(self) -> float:
        t0 = time.perf_counter()
        self.hooks.launch()
        LoginScreen(self.ctx).wait_until_shown()
        return _ms_since(t0)

    def login(self) -> float:
        t0 = time.perf_counter()
        screen = LoginScreen(self.ctx).fill(self.given.username, self.given.password)
        self.tapped_sign_in = time.perf_counter()
        self.dashboard_screen = screen.tap_sign_in().wait_until_shown()
        return _ms_since(t0)

    def dashboard(self) -> float:
        # from the sign-in tap, which is when the user starts waiting for their data
        assert self.dashboard_screen is not None
        self.dashboard_screen.wait_for_data()
        return _ms_since(self.tapped_sign_in)

    def write(self) -> float:
        assert self.dashboard_screen is not None
        t0 = time.perf_counter()
        screen: NewJobScreen = self.dashboard_screen.open_new_job().wait_until_shown()
        screen.submit(self.given.job_title).wait_for_outcome()
        duration = _ms_since(t0)
        settle(self.given.settle_s)  # a duplicate success or a late retry would show up now
        outcome = screen.outcome()
        problem = self._write_problem(outcome)
        if problem:
            raise _Failed(problem, duration)
        return duration

    def _write_problem(self, outcome: JobOutcome) -> str:
        if outcome.error:
            return f"error shown: {outcome.error}"
        if outcome.retry_shown:
            return "retry shown after a single tap"
        if outcome.success_count != 1:
            return f"success shown {outcome.success_count} times (expected exactly once)"
        if self.hooks.verify_write is not None:
            return self.hooks.verify_write(outcome)
        return ""


def run_critical_path(ctx: ScreenContext, given: FlowInput, hooks: FlowHooks) -> list[MobileStep]:
    """Walk the critical path once and return one ``MobileStep`` per step (not-run steps included)."""
    path = _CriticalPath(ctx, given, hooks)
    actions: dict[str, Callable[[], float]] = {
        "app_open": path.app_open,
        "login": path.login,
        "dashboard": path.dashboard,
        "write": path.write,
    }
    steps: list[MobileStep] = []
    failed_at = ""
    for name in STEPS:
        budget = given.budgets_ms.get(name)
        if failed_at:
            steps.append(
                MobileStep(
                    name=name,
                    duration_ms=0.0,
                    budget_ms=budget,
                    passed=False,
                    error=f"not run: stopped after {failed_at!r} failed",
                )
            )
            continue
        t0 = time.perf_counter()
        error = ""
        try:
            duration = actions[name]()
        except _Failed as exc:
            duration, error = exc.duration_ms, str(exc)
        except StepFailed as exc:
            duration, error = _ms_since(t0), str(exc)
        except WebDriverException as exc:
            duration, error = _ms_since(t0), _driver_error(exc)
        if not error and budget is not None and duration > budget:
            error = f"took {duration:.0f} ms, over its {budget:.0f} ms budget"
        step = MobileStep(
            name=name,
            duration_ms=round(duration, 1),
            budget_ms=budget,
            passed=not error,
            error=hooks.redact(error),
        )
        if error:
            failed_at = name
            step.screenshot, step.page_source = hooks.evidence(name)
        steps.append(step)
    return steps
