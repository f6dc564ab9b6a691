"""Open-model load: requests scheduled at intended send times, like wrk2, whatever the server does.

Each sample is timed from its intended start (coordinated-omission corrected); a request that leaves more than
``late_after_ms`` after its slot counts as late; slots whose time came before the run ended but that never left
count as dropped.
"""

from __future__ import annotations

import heapq

from scenarios.base import Driver, Scenario, Session


class OpenSchedule:
    """Shared by all steady users of one process: hands out (intended wall time, endpoint) slots in order."""

    def __init__(self, rates: dict[str, float], t_start: float, t_end: float | None = None) -> None:
        self.rates = {name: r for name, r in rates.items() if r > 0}
        self.t_start = t_start
        self.t_end = t_end  # no slot is handed out at or after the end: a stopping run sends nothing new
        self.issued: dict[str, int] = dict.fromkeys(self.rates, 0)
        self._heap: list[tuple[float, str]] = [(t_start, name) for name in sorted(self.rates)]
        heapq.heapify(self._heap)

    def next_slot(self) -> tuple[float, str] | None:
        if not self._heap or (self.t_end is not None and self._heap[0][0] >= self.t_end):
            return None
        when, name = heapq.heappop(self._heap)
        self.issued[name] += 1
        heapq.heappush(self._heap, (self.t_start + self.issued[name] / self.rates[name], name))
        return when, name

    def restart(self, t_start: float) -> None:
        """Move a schedule that has handed out nothing yet (keeping its length)."""
        if self.t_end is not None:
            self.t_end += t_start - self.t_start
        self.t_start = t_start
        self._heap = [(t_start, name) for name in sorted(self.rates)]
        heapq.heapify(self._heap)

    def due(self, name: str, t_end: float) -> int:
        """Slots whose intended time falls before t_end (inclusive of the first at t_start)."""
        if self.t_end is not None:
            t_end = min(t_end, self.t_end - 1e-9)
        if t_end < self.t_start:
            return 0
        rate = self.rates[name]
        return int((t_end - self.t_start) * rate) + 1

    def dropped(self, t_end: float, started: dict[str, int]) -> dict[str, int]:
        return {name: max(0, self.due(name, t_end) - started.get(name, 0)) for name in self.rates}


class SteadyScenario(Scenario):
    name = "steady"

    def __init__(self, schedule: OpenSchedule, late_after_ms: float, started: dict[str, int]) -> None:
        self.schedule = schedule
        self.late_after_s = late_after_ms / 1000.0
        self.started = started  # shared counter of slots that actually left, per endpoint
        self.session: Session | None = None

    def on_start(self, driver: Driver) -> None:
        self.session = driver.new_session()

    def iteration(self, driver: Driver) -> None:
        if self.session is None:
            self.session = driver.new_session()
        slot = self.schedule.next_slot()
        if slot is None:
            driver.sleep(0.05)  # the schedule is over; the engine is about to stop this user
            return
        intended, endpoint = slot
        driver.sleep_until(intended)
        late = driver.now() - intended > self.late_after_s
        self.started[endpoint] = self.started.get(endpoint, 0) + 1
        driver.call(self.session, endpoint, self.name, intended_wall=intended, late=late)

    def on_stop(self, driver: Driver) -> None:
        if self.session is not None:
            driver.close_session(self.session)
