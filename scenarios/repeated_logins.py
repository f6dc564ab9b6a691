"""A founder checking the product 20 times an afternoon, compressed: fresh session, log in, look, leave."""

from __future__ import annotations

from scenarios.base import Driver, Scenario, think


class RepeatedLoginsScenario(Scenario):
    name = "repeated_logins"

    def __init__(self, pages: list[str], think_time_s: tuple[float, float]) -> None:
        self.pages = pages
        self.think_time_s = think_time_s

    def iteration(self, driver: Driver) -> None:
        # a new session is a new connection and no token: exactly what reopening the app costs
        session = driver.new_session()
        try:
            result = driver.login(session, self.name)
            if not result.ok:
                think(driver, self.think_time_s)
                return
            for page in self.pages:
                driver.call(session, page, self.name)
        finally:
            driver.close_session(session)
        think(driver, self.think_time_s)
