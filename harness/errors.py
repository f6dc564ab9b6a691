"""The error tree of rehearse, written once.

    HarnessError                 base; the CLI turns it into a message and an exit code
    ├── PlanError                bad input: plan file, key, value, missing secret  → exit 2
    ├── TargetError              the target cannot be reached or misbehaves       → exit 3
    ├── DeviceError              Appium / browser / device trouble                → exit 3
    ├── NetworkError             network shaping could not be set up              → exit 3
    └── ReportError              results cannot be read or rendered               → exit 2 (bad file) / 3

Foreign errors (yaml, pydantic, locust, selenium, httpx) are translated at one boundary with
``raise ... from exc``, carrying the file, key or endpoint involved. This module imports nothing of ours.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error rehearse raises on purpose."""

    exit_code = 3


class PlanError(HarnessError):
    """The plan file (or another input) is wrong; the message names the file, key and fix."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        where = ""
        if path:
            where = f"{path}: "
        if key:
            where += f"{key}: "
        super().__init__(f"{where}{message}")


class TargetError(HarnessError):
    """The system under test could not be reached or started."""


class DeviceError(HarnessError):
    """A mobile device, browser or Appium server failed."""


class NetworkError(HarnessError):
    """Network shaping could not be applied."""


class ReportError(HarnessError):
    """Saved results could not be read or a report could not be written."""

    exit_code = 2
