"""A whole rehearsal: plan → phases (one per network profile) → ``RunResult`` → results.json and reports.

Imports the load module, and so Locust: the CLI imports this lazily, only for commands that send load.
"""

from __future__ import annotations

import contextlib
import signal
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from harness import __version__
from harness.errors import HarnessError, NetworkError
from harness.loadrun import run_local, run_master
from harness.model import MobileFlow, RunResult, Verdict
from harness.network_setup import ResolvedProfile, floor_for, resolve_profiles, start_shaping
from harness.phase import Phase, Proxy
from harness.plan import LoadedPlan
from harness.progress import Progress
from harness.recorder import Recorder, timeline_bucket_s
from harness.results import analyse_bursts, build_endpoints, cold_starts, error_samples, save_result
from harness.runinfo import machine_info, new_run_id, now_iso, render_reports
from harness.stats import percentiles_ms
from harness.verdict import judge


@dataclass
class RunOptions:
    out_root: Path = Path("reports/out")
    run_id: str | None = None
    duration_s: float | None = None
    max_requests: int | None = None
    workers: int = 0  # 0 = in-process local runner; N = N local worker processes under a master
    progress: bool | None = None
    render: bool = True
    mobile: bool = True
    master_bind: tuple[str, int] | None = None  # --master: workers on other machines connect here
    expect_workers: int = 1
    notices: list[str] = field(default_factory=list)
    fresh_target: bool = False  # restart the target first (plan's target.restart): the load meets the cold starts


class _Interrupt:
    """Ctrl-C / SIGTERM set a flag the run loop sees; what was measured is kept and reported as partial."""

    def __init__(self) -> None:
        self.hit = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Interrupt:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _worst_p95(recorder: Recorder) -> float | None:
    worst = None
    for s in list(recorder.series.values()):
        if s.main.get_total_count():
            v = percentiles_ms(s.main, (95.0,))[95.0]
            worst = v if worst is None or v > worst else worst
    return worst


def _reap_under_load(job: Any, profile: str) -> list[MobileFlow]:
    """Wait for one profile's under-load flows; say so on each flow when they outlasted the load phase."""
    outlasted = job.running()
    flows: list[MobileFlow] = job.wait()
    if outlasted:
        note = f"the flows outlasted the {profile} load phase: their last steps ran without load"
        for flow in flows:
            flow.notice = f"{flow.notice}; {note}" if flow.notice else note
    return flows


def run_plan(lp: LoadedPlan, options: RunOptions | None = None) -> tuple[RunResult, Path]:
    """Rehearse a plan; always returns a result (status ``partial`` if interrupted or a phase failed)."""
    opts = options or RunOptions()
    plan = lp.plan
    run_id = opts.run_id or new_run_id()
    out_dir = opts.out_root / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    duration = opts.duration_s if opts.duration_s is not None else plan.run.duration_s
    cap = opts.max_requests if opts.max_requests is not None else plan.run.max_requests
    profiles: list[ResolvedProfile] = resolve_profiles(plan, lp.path)
    notices = list(opts.notices)
    if opts.fresh_target:
        from harness.restart import restart_target

        _, restarted = restart_target(lp)  # before anything is measured: a failure here is exit 3, nothing lost
        notices.append(restarted)
    # after a fresh restart the load, not the browser, must send the first requests: the baseline flow runs last
    baseline_first = not opts.fresh_target
    started_at = now_iso()
    recorder = Recorder(t0=time.time(), warmup_s=plan.run.warmup_s, bucket_s=timeline_bucket_s(duration))
    status = "complete"
    mobile: list[MobileFlow] | None = None
    network: dict[str, Any] = {"backend": "none", "profiles": [p.to_dict() for p in profiles], "notice": ""}
    failure: HarnessError | None = None
    total_s = duration * len(profiles)
    under_load: list[Any] = []

    with _Interrupt() as interrupt, Progress(total_s, opts.progress) as progress, ExitStack() as stack:
        try:
            if plan.mobile and opts.mobile and baseline_first:
                from harness.mobile_phase import run_mobile_phase

                mobile = run_mobile_phase(lp, out_dir, "baseline", profiles[0])
            for i, prof in enumerate(profiles):
                if interrupt.hit or recorder.total >= cap:
                    break
                proxy: Proxy | None = None
                # workers on other machines shape their own traffic (it never passes this machine)
                if prof.shaped and opts.master_bind is None:
                    shaping = start_shaping(prof, plan.run.network_backend, seed=plan.run.seed + i)
                    stack.enter_context(shaping.handle)
                    proxy = Proxy(shaping.host, shaping.port)
                    network["backend"] = shaping.backend
                    if shaping.notice and shaping.notice not in notices:
                        notices.append(shaping.notice)
                        network["notice"] = shaping.notice
                phase = Phase(prof.name, proxy, duration, cap)
                recorder.t0 = time.time()
                offset = i * duration

                ramp_s = min(3.0, duration / 4)

                def tick(
                    elapsed: float,
                    _p: str = prof.name,
                    _o: float = offset,
                    _r: Any = prof,
                    _ramp: float = ramp_s,
                ) -> None:
                    worst = partial(_worst_p95, recorder)  # scanned only when the line is shown
                    progress.update(_p, _o + elapsed, recorder.total, recorder.total_errors, worst)
                    # what a prospect sees on this network while others hit the backend: the flows start once
                    # this profile's load has ramped up
                    if plan.mobile and opts.mobile and elapsed >= _ramp and not under_load:
                        from harness.mobile_phase import start_mobile_under_load

                        under_load.append(start_mobile_under_load(lp, out_dir, _r))

                if opts.master_bind is not None:
                    host, port = opts.master_bind
                    # one port per phase (PORT, PORT+1, ...): a worker that finished a phase early can never
                    # join the previous phase's master while it shuts down
                    last = i == len(profiles) - 1

                    def final(_last: bool = last) -> bool:
                        return _last or interrupt.hit or recorder.total >= cap

                    try:
                        run_master(
                            lp, phase, recorder, opts.expect_workers, host, port + i, tick=tick,
                            stop_flag=lambda: interrupt.hit, final=final,
                        )  # fmt: skip
                    finally:
                        if prof.shaped:
                            network["backend"] = ",".join(sorted(phase.seen.get("shaping", set()))) or "unknown"
                        for notice in sorted(phase.seen.get("notice", set())):
                            if f"on a worker: {notice}" not in notices:
                                notices.append(f"on a worker: {notice}")
                                network["notice"] = notice
                elif opts.workers > 0:
                    from harness.workers import run_with_local_workers

                    run_with_local_workers(lp, phase, recorder, opts.workers, tick, run_master)
                else:
                    run_local(lp, phase, recorder, tick, stop_flag=lambda: interrupt.hit)
                if under_load and not interrupt.hit:
                    # this profile's flows end before the next profile starts: they never straddle two networks
                    mobile = (mobile or []) + _reap_under_load(under_load.pop(), prof.name)
        except (KeyboardInterrupt, HarnessError) as exc:
            status = "partial"
            if isinstance(exc, HarnessError):
                failure = exc
                notices.append(f"run stopped early: {exc}")
            else:
                notices.append("run interrupted (Ctrl-C); figures cover what was measured until then")
        for job in under_load:
            # a job started is always reaped: on Ctrl-C it is stopped, never left running
            mobile = (mobile or []) + (job.stop() if interrupt.hit or status == "partial" else job.wait())
        if plan.mobile and opts.mobile and not baseline_first and status == "complete" and not interrupt.hit:
            from harness.mobile_phase import run_mobile_phase

            try:
                mobile = run_mobile_phase(lp, out_dir, "baseline", profiles[0]) + (mobile or [])
            except HarnessError as exc:
                status, failure = "partial", exc
                notices.append(f"run stopped early: {exc}")
        if interrupt.hit:
            status = "partial"
            if not any("interrupted" in n for n in notices):
                notices.append("run interrupted (Ctrl-C); figures cover what was measured until then")

    budgets = {p.name: p.budget_ms for p in profiles if p.budget_ms is not None}
    endpoints = build_endpoints(plan, recorder, budgets)
    by_name = {p.name: p for p in profiles}
    for e in endpoints:
        shaped = by_name.get(e.profile)
        if shaped is not None and shaped.shaped:
            e.floor_ms = floor_for(shaped, e.bytes_mean)
    colds = cold_starts(recorder, endpoints)
    if plan.run.idle_probe_s > 0 and status == "complete":
        from harness.probe import idle_probe

        try:
            colds += idle_probe(lp, plan.run.idle_probe_s, endpoints, colds)
        except HarnessError as exc:
            notices.append(str(exc))
        except KeyboardInterrupt:
            notices.append("idle probe interrupted (Ctrl-C); no after-idle figures")
    tp = plan.scenarios.three_prospects
    result = RunResult(
        run_id=run_id,
        started_at=started_at,
        finished_at=now_iso(),
        target=plan.target.base_url,
        plan_sha256=lp.sha256,
        plan_path=lp.path,
        harness_version=__version__,
        status=status,
        verdict=Verdict(passed=True),
        endpoints=endpoints,
        machine=machine_info(),
        settings={
            "name": plan.name,
            "duration_s": duration,
            "max_requests": cap,
            "warmup_s": plan.run.warmup_s,
            "workers": opts.workers,
            "profiles": [p.name for p in profiles],
            "scenarios": [k for k, v in plan.scenarios.model_dump().items() if v is not None],
            "users": _users(lp),
            "requests": recorder.total,
        },
        cold_starts=colds,
        bursts=analyse_bursts(recorder.bursts, tp.k if tp else 3, tp.bystander or "" if tp else ""),
        network=network,
        mobile=mobile,
        errors=error_samples(recorder, lp.secrets.redact),
        notices=notices,
    )
    result.verdict = judge(endpoints, mobile)
    if status == "partial":
        # a run that did not finish cannot say GO: what it measured is kept and reported all the same
        result.verdict.passed = False
        result.verdict.reasons.insert(0, "the run did not finish: figures are partial")
    if not endpoints and failure is not None:
        result.verdict = Verdict(passed=False, reasons=[f"nothing was measured: {failure}"])
    path = save_result(result, out_dir / "results.json")
    if opts.render:
        render_reports(result, out_dir)
    if failure is not None and not endpoints:
        raise failure
    return result, path


def _users(lp: LoadedPlan) -> int:
    sc = lp.plan.scenarios
    n = 0
    n += sc.repeated_logins.users if sc.repeated_logins else 0
    n += (sc.three_prospects.k + 1) if sc.three_prospects else 0
    n += sc.demo_session.users if sc.demo_session else 0
    n += sc.steady.users if sc.steady else 0
    return n


__all__ = ["NetworkError", "RunOptions", "new_run_id", "render_reports", "run_plan"]
