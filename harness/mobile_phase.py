"""Mobile smoke flows within a rehearsal: before load (baseline), while load runs, or alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import PlanError
from harness.model import MobileFlow, RunResult
from harness.plan import LoadedPlan


def parse_mobile(lp: LoadedPlan) -> Any:
    raise PlanError(
        "mobile flows are not available in this build; remove the 'mobile' section",
        path=lp.path,
        key="mobile",
    )


def run_mobile_phase(lp: LoadedPlan, out_dir: Path, phase: str, profile: Any) -> list[MobileFlow]:
    parse_mobile(lp)
    return []


def run_mobile_under_load(
    lp: LoadedPlan, out_dir: Path, profile: Any, duration: float, cap: int
) -> list[MobileFlow]:
    parse_mobile(lp)
    return []


def run_mobile_only(lp: LoadedPlan, out_root: Path) -> tuple[RunResult, Path]:
    parse_mobile(lp)
    raise AssertionError("unreachable")
