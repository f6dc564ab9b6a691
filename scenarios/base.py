"""What a scenario may do: the driver protocol and the scenario base class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class CallResult:
    """One request as the scenario sees it (the recorder saw it too, through the request event)."""

    ok: bool
    ms: float
    start_wall: float
    status: int = 0
    body: Any = None


class Session(Protocol):
    """One simulated device: its own connection(s) and its own token."""

    token: str | None


class Driver(Protocol):
    """Implemented by the load module; everything a scenario needs from the engine."""

    profile: str
    has_login: bool

    def new_session(self) -> Session: ...

    def close_session(self, session: Session) -> None: ...

    def login(self, session: Session, scenario: str) -> CallResult: ...

    def call(
        self,
        session: Session,
        endpoint: str,
        scenario: str,
        *,
        intended_wall: float | None = None,
        late: bool = False,
    ) -> CallResult: ...

    def together(self, calls: list[Callable[[], T]]) -> tuple[list[T], list[float]]:
        """Run the calls at the same instant (barrier release); return results and release wall times."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def sleep_until(self, wall: float) -> None: ...

    def now(self) -> float: ...

    def random(self) -> float: ...

    def note_burst(
        self,
        endpoint: str,
        latencies_ms: list[float],
        send_times: list[float],
        solo_ms: float | None,
        bystander_during_ms: float | None,
        bystander_outside_ms: float | None,
    ) -> None: ...


class Scenario:
    """A scenario runs iterations until the engine stops it; one instance per simulated user."""

    name = "scenario"

    def on_start(self, driver: Driver) -> None:
        """Called once before the first iteration."""

    def iteration(self, driver: Driver) -> None:
        raise NotImplementedError

    def on_stop(self, driver: Driver) -> None:
        """Called once when the user stops."""


def think(driver: Driver, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    if hi <= 0:
        return
    driver.sleep(lo + (hi - lo) * driver.random())
