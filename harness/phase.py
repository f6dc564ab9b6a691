"""One profile's slice of a run, and the messages and checks that keep a master and its workers on the same one.

Plain data and rules, no Locust: the CLI, the rehearsal and the worker loop use these without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.plan import LoadedPlan
from harness.recorder import Recorder
from scenarios import OpenSchedule

__all__ = ["DATA_KEY", "DONE_MSG", "FLUSHED_MSG", "FLUSH_MSG", "META_KEY", "Phase", "Proxy", "account_dropped",
           "worker_mismatch"]  # fmt: skip

FLUSH_MSG = "rehearse_flush"  # master → workers: ship everything recorded so far
FLUSHED_MSG = "rehearse_flushed"  # worker → master: shipped
DONE_MSG = "rehearse_done"  # master → workers: no phase follows this one
DATA_KEY = "rehearse"  # a worker report's histograms
META_KEY = "rehearse_meta"  # a worker's plan, profile, rate share and shaping: the master checks they match


@dataclass
class Proxy:
    host: str
    port: int


@dataclass
class Phase:
    """One profile's slice of the run."""

    profile: str
    proxy: Proxy | None
    duration_s: float
    max_requests: int
    started: dict[str, int] = field(default_factory=dict)
    schedule: OpenSchedule | None = None
    shaping: str = "none"  # the shaping backend this process's traffic goes through ("proxy", "netem", "none")
    notice: str = ""  # a shaping fallback notice, passed on to the master
    seen: dict[str, set[str]] = field(default_factory=dict)  # master: worker-side "shaping" and "notice" values


def worker_mismatch(meta: dict[str, Any], lp: LoadedPlan, phase: Phase, expect_workers: int) -> str:
    """Why a worker's samples do not belong to this phase ('' when they do)."""
    if meta.get("plan_sha256") != lp.sha256:
        return "runs a different plan file than the master (sha256 differs); give every machine the same plan"
    if meta.get("profile") != phase.profile:
        return f"is on network profile {meta.get('profile')!r} while the master runs {phase.profile!r}"
    if lp.plan.scenarios.steady and meta.get("share") != expect_workers:
        return (
            f"splits the steady rates {meta.get('share')} ways but {expect_workers} workers serve the master; "
            f"start it with --worker-share {expect_workers}"
        )
    return ""


def account_dropped(phase: Phase, recorder: Recorder, t_end: float) -> None:
    if phase.schedule is None:
        return
    for name, n in phase.schedule.dropped(t_end, phase.started).items():
        if n:
            recorder.add_dropped(("steady", name, phase.profile), n)
