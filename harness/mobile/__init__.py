"""Mobile smoke flows: the app's critical path on real (or emulated) devices through Appium.

``MobileConfig`` is the plan's ``mobile:`` section (cheap to import: pydantic only); ``run_mobile`` walks the
flows and returns ``MobileFlow`` results. The runner pulls in the Appium client and Selenium, so it is
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.mobile.config import MobileConfig

if TYPE_CHECKING:
    from harness.mobile.cdp import NetworkProfileLike
    from harness.mobile.runner import run_mobile

__all__ = ["MobileConfig", "NetworkProfileLike", "run_mobile"]


def __getattr__(name: str) -> Any:
    if name == "run_mobile":
        from harness.mobile.runner import run_mobile

        return run_mobile
    if name == "NetworkProfileLike":
        from harness.mobile.cdp import NetworkProfileLike

        return NetworkProfileLike
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
