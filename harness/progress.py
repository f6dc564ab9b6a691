"""A live progress line while the run goes; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text


class Progress:
    def __init__(self, total_s: float, enabled: bool | None = None) -> None:
        self.total_s = total_s
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._live = Live(Text(""), console=Console(stderr=True), refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def update(
        self, label: str, elapsed_s: float, requests: int, errors: int, worst_p95_ms: Callable[[], float | None]
    ) -> None:
        """``worst_p95_ms`` scans histograms, so it is only called when the line is shown."""
        if self._live is None:
            return
        worst_value = worst_p95_ms()
        worst = f"{worst_value:,.0f} ms" if worst_value is not None else "—"
        self._live.update(
            Text(
                f"{label}  {elapsed_s:5.1f}/{self.total_s:.0f} s  requests {requests:,}  errors {errors:,}  "
                f"worst p95 so far {worst}"
            )
        )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None
