"""Locust's own master/worker runners: ``--workers N`` on one machine, and ``--worker`` serving a remote master.

``--workers N`` starts N local worker processes per phase, each told its profile and the master's shaping proxy.
A ``--worker`` on another machine runs the plan's phases in the master's order (both read the same plan file) and
shapes its own traffic for each profile, since its packets never pass the master's proxy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from harness.loadrun import run_worker
from harness.network_setup import resolve_profiles, start_shaping
from harness.phase import Phase, Proxy
from harness.plan import LoadedPlan
from harness.recorder import Recorder


def worker_command(lp: LoadedPlan, phase: Phase, master_host: str, master_port: int, workers: int) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "run",
        lp.path,
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(master_port),
        "--base-url",
        lp.plan.target.base_url,
        "--profile-name",
        phase.profile,
        "--worker-share",
        str(workers),
        "--duration",
        str(phase.duration_s),
    ]
    if phase.proxy is not None:
        cmd += ["--proxy", f"{phase.proxy.host}:{phase.proxy.port}"]
    return cmd


def run_with_local_workers(
    lp: LoadedPlan,
    phase: Phase,
    recorder: Recorder,
    workers: int,
    tick: Callable[[float], None],
    run_master: Callable[..., None],
) -> None:
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(port: int) -> None:
        for _ in range(workers):
            procs.append(
                subprocess.Popen(
                    worker_command(lp, phase, "127.0.0.1", port, workers),
                    env=dict(os.environ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    try:
        run_master(lp, phase, recorder, workers, on_bound=spawn, tick=tick)
    finally:
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def serve_master(
    lp: LoadedPlan, master_host: str, master_port: int, share: int, duration_s: float, max_requests: int
) -> None:
    """``--worker``: serve every phase of the plan (one per network profile), shaping on this machine."""
    profiles = resolve_profiles(lp.plan, lp.path)
    for i, prof in enumerate(profiles):
        with ExitStack() as stack:
            phase = Phase(prof.name, None, duration_s, max_requests)
            if prof.shaped:
                shaping = start_shaping(prof, lp.plan.run.network_backend, seed=lp.plan.run.seed + i)
                stack.enter_context(shaping.handle)
                phase.proxy = Proxy(shaping.host, shaping.port)
                phase.shaping, phase.notice = shaping.backend, shaping.notice
            _, done = run_worker(lp, phase, master_host, master_port + i, share)  # the master's port for phase i
            if done:
                return


__all__: list[Any] = ["run_with_local_workers", "serve_master", "worker_command"]
