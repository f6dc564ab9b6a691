"""Mobile smoke flows within a rehearsal: before load (baseline), while load runs, or alone.

The load process is gevent-patched (it imports Locust), so flows that run beside it go through a subprocess
(``python -m harness.mobile_phase``) that never imports Locust; ``rehearse mobile`` runs them in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.model import MobileFlow, MobileStep, RunResult, mobile_flows_from_json
from harness.plan import LoadedPlan
from harness.results import save_result, write_json_atomic

if TYPE_CHECKING:  # the mobile package loads only when a plan has a mobile section
    from harness.mobile.config import MobileConfig


def parse_mobile(lp: LoadedPlan) -> MobileConfig:
    from harness.mobile.config import parse_mobile_config

    return parse_mobile_config(lp.plan.mobile, path=lp.path)


def _profile_from_json(text: str | None) -> Any:
    if not text:
        return None
    from harness.network.profiles import NetworkProfile

    prof = NetworkProfile.from_dict(json.loads(text))
    return prof if not prof.is_direct else None


def _failed_flow(phase: str, profile: str, message: str) -> MobileFlow:
    return MobileFlow(
        name="critical_path",
        device="(not started)",
        passed=False,
        phase=phase,
        profile=profile,
        notice=message,
        steps=[MobileStep(name="app_open", duration_ms=0.0, passed=False, error=message)],
    )


class MobileJob:
    """One subprocess running the plan's mobile flows for one phase."""

    def __init__(self, lp: LoadedPlan, out_dir: Path, phase: str, profile: Any | None, profile_name: str) -> None:
        self.phase = phase
        self.profile_name = profile_name
        fd, name = tempfile.mkstemp(prefix="rehearse-mobile-", suffix=".json")
        os.close(fd)
        self.result_path = Path(name)
        cmd = [
            sys.executable, "-m", "harness.mobile_phase", "--plan", lp.path, "--base-url", lp.plan.target.base_url,
            "--out", str(out_dir), "--phase", phase, "--result", str(self.result_path),
        ]  # fmt: skip
        if profile is not None:
            cmd += ["--profile-json", json.dumps(profile.to_dict())]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> list[MobileFlow]:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
        self.result_path.unlink(missing_ok=True)
        return [_failed_flow(self.phase, self.profile_name, "mobile flows stopped: the run was interrupted")]

    def wait(self, timeout_s: float = 300.0) -> list[MobileFlow]:
        try:
            _, err = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            return [_failed_flow(self.phase, self.profile_name, f"mobile flows did not finish in {timeout_s:.0f} s")]
        try:
            data = json.loads(self.result_path.read_text() or "{}")
        except (OSError, ValueError):
            data = {}
        finally:
            self.result_path.unlink(missing_ok=True)
        if "error" in data or "flows" not in data:
            message = data.get("error") or (err.strip().splitlines() or ["mobile flows failed"])[-1]
            return [_failed_flow(self.phase, self.profile_name, message)]
        return mobile_flows_from_json(data["flows"])


def run_mobile_phase(
    lp: LoadedPlan, out_dir: Path, phase: str, profile: Any, timeout_s: float = 300
) -> list[MobileFlow]:
    """Run the flows in a subprocess and wait for them (the baseline, before load)."""
    parse_mobile(lp)  # bad config is a plan error now, not a failed flow later
    shaped = profile.profile if getattr(profile, "shaped", False) else None
    return MobileJob(lp, out_dir, phase, shaped, profile.name if profile is not None else "direct").wait(timeout_s)


def start_mobile_under_load(lp: LoadedPlan, out_dir: Path, profile: Any) -> MobileJob:
    shaped = profile.profile if getattr(profile, "shaped", False) else None
    return MobileJob(lp, out_dir, "under_load", shaped, profile.name if profile is not None else "direct")


def run_mobile_only(lp: LoadedPlan, out_root: Path) -> tuple[RunResult, Path]:
    """``rehearse mobile``: the flows alone, in this process, saved and reported like any run."""
    from harness.mobile.runner import run_mobile
    from harness.network_setup import resolve_profiles
    from harness.runinfo import machine_info, new_run_id, now_iso, render_reports
    from harness.verdict import judge

    config = parse_mobile(lp)
    profile = resolve_profiles(lp.plan, lp.path)[0]
    run_id = new_run_id()
    out_dir = out_root / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    started = now_iso()
    flows = run_mobile(
        config, lp.plan.target.base_url, out_dir, "baseline", profile.profile if profile.shaped else None
    )
    result = RunResult(
        run_id=run_id,
        started_at=started,
        finished_at=now_iso(),
        target=lp.plan.target.base_url,
        plan_sha256=lp.sha256,
        plan_path=lp.path,
        verdict=judge([], flows),
        machine=machine_info(),
        settings={"name": lp.plan.name, "profiles": [profile.name], "mode": "mobile only"},
        mobile=flows,
    )
    path = save_result(result, out_dir / "results.json")
    render_reports(result, out_dir)
    return result, path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.mobile_phase")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--phase", default="baseline")
    parser.add_argument("--result", required=True)
    parser.add_argument("--profile-json", default=None)
    args = parser.parse_args(argv)
    from harness.mobile.runner import run_mobile
    from harness.plan import load_plan

    started = time.monotonic()
    try:
        lp = load_plan(args.plan, base_url=args.base_url)
        flows = run_mobile(
            parse_mobile(lp), args.base_url, Path(args.out), args.phase, _profile_from_json(args.profile_json)
        )
    except HarnessError as exc:
        write_json_atomic(Path(args.result), {"error": str(exc)})
        return 3
    except Exception as exc:  # a crash in a side job must not take the load run's results with it
        write_json_atomic(Path(args.result), {"error": f"{type(exc).__name__}: {exc}"})
        return 3
    write_json_atomic(Path(args.result), {"flows": [asdict(f) for f in flows], "seconds": time.monotonic() - started})
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["MobileJob", "parse_mobile", "run_mobile_only", "run_mobile_phase", "start_mobile_under_load"]
