"""The walk-through a salesperson does: log in, dashboard, list, one write, dashboard again."""

from __future__ import annotations

from scenarios.base import Driver, Scenario, Session, think


class DemoSessionScenario(Scenario):
    name = "demo_session"

    def __init__(self, steps: list[str], weights: dict[str, float], think_time_s: tuple[float, float]) -> None:
        self.steps = steps
        self.weights = weights
        self.think_time_s = think_time_s
        self.session: Session | None = None

    def on_start(self, driver: Driver) -> None:
        self.session = driver.new_session()

    def iteration(self, driver: Driver) -> None:
        session = self.session or driver.new_session()
        self.session = session
        if driver.has_login and session.token is None and not driver.login(session, self.name).ok:
            think(driver, self.think_time_s)
            return
        pause = self.think_time_s[1] > 0
        for step in self.steps:
            # a weight below 1 makes a step optional (taken that share of walk-throughs), above 1 repeats it
            weight = self.weights.get(step, 1.0)
            whole = int(weight)
            repeats = whole + (1 if weight != whole and driver.random() < weight - whole else 0)
            for _ in range(repeats):
                driver.call(session, step, self.name)
                if pause:
                    think(driver, self.think_time_s)

    def on_stop(self, driver: Driver) -> None:
        if self.session is not None:
            driver.close_session(self.session)
