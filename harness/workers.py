"""``--workers N``: N local Locust worker processes under an in-process master (Locust's own runners)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from harness.loadrun import Phase
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


__all__: list[Any] = ["run_with_local_workers", "worker_command"]
