"""rehearse: will the backend survive the live demo? Load, latency and mobile smoke, with honest numbers.

The public surface is small; everything else is a private module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.errors import DeviceError, HarnessError, NetworkError, PlanError, ReportError, TargetError
from harness.model import RunResult
from harness.plan import load_plan

__version__ = "0.1.0"

if TYPE_CHECKING:
    from harness.rehearsal import RunOptions


def run_plan(plan_path: str, options: RunOptions | None = None, **kwargs: Any) -> RunResult:
    """Load a plan file and rehearse it (imports Locust, so only when called)."""
    from harness.rehearsal import run_plan as _run

    return _run(load_plan(plan_path, **kwargs), options)[0]


__all__ = [
    "DeviceError",
    "HarnessError",
    "NetworkError",
    "PlanError",
    "ReportError",
    "RunResult",
    "TargetError",
    "__version__",
    "load_plan",
    "run_plan",
]
