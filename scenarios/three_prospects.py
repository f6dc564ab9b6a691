"""k prospects hit one endpoint at the same instant, round after round, while a bystander is watched."""

from __future__ import annotations

from collections.abc import Callable

from scenarios.base import CallResult, Driver, Scenario, Session


class ThreeProspectsScenario(Scenario):
    name = "three_prospects"

    def __init__(
        self,
        k: int,
        endpoint: str,
        bystander: str | None,
        pause_s: float,
        solo_every: int = 1,
        needs_login: bool = True,
    ) -> None:
        self.k = k
        self.endpoint = endpoint
        self.bystander = bystander
        self.pause_s = pause_s
        self.solo_every = solo_every
        self.needs_login = needs_login
        self.sessions: list[Session] = []
        self.bystander_session: Session | None = None
        self.rounds = 0

    def on_start(self, driver: Driver) -> None:
        # each prospect is its own device: its own connection and its own token
        self.sessions = [driver.new_session() for _ in range(self.k)]
        self.bystander_session = driver.new_session()
        if self.needs_login:
            for s in [*self.sessions, self.bystander_session]:
                driver.login(s, self.name)

    def _caller(self, session: Session, endpoint: str) -> Callable[[], CallResult]:
        return lambda: driver_call(self._driver, session, endpoint, self.name)

    def iteration(self, driver: Driver) -> None:
        self._driver = driver
        solo_ms: float | None = None
        outside_ms: float | None = None
        if self.rounds % self.solo_every == 0:
            solo = driver.call(self.sessions[0], self.endpoint, self.name)
            solo_ms = solo.ms if solo.ok else None
        if self.bystander and self.bystander_session is not None:
            outside = driver.call(self.bystander_session, self.bystander, self.name)
            outside_ms = outside.ms if outside.ok else None
        calls = [self._caller(s, self.endpoint) for s in self.sessions]
        if self.bystander and self.bystander_session is not None:
            calls.append(self._caller(self.bystander_session, self.bystander))
        results, sent = driver.together(calls)
        burst = results[: self.k]
        during_ms: float | None = None
        if len(results) > self.k and results[self.k].ok:
            during_ms = results[self.k].ms
        driver.note_burst(
            self.endpoint,
            [r.ms for r in burst],
            [r.start_wall for r in burst] or sent[: self.k],
            solo_ms,
            during_ms,
            outside_ms,
        )
        self.rounds += 1
        driver.sleep(self.pause_s)

    def on_stop(self, driver: Driver) -> None:
        for s in self.sessions:
            driver.close_session(s)
        if self.bystander_session is not None:
            driver.close_session(self.bystander_session)


def driver_call(driver: Driver, session: Session, endpoint: str, scenario: str) -> CallResult:
    return driver.call(session, endpoint, scenario)
