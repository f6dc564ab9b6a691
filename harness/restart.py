"""``--fresh-target``: restart the target with the plan's ``target.restart`` command, then wait until it answers.

The first request to each endpoint after this is what a prospect meets right after a deploy; the run reports
those as cold starts. The command is the team's own (``docker compose restart api``, ``kubectl rollout restart
deploy/api && kubectl rollout status deploy/api``, a CI deploy hook...); nothing here knows any particular
target. Readiness is the first 2xx from ``target.restart.ready_path`` (that path is warmed by the polling).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from harness.errors import PlanError, TargetError
from harness.plan import LoadedPlan
from harness.probe import target_client

__all__ = ["Restarted", "restart_target"]

_POLL_S = 0.1


@dataclass(frozen=True)
class Restarted:
    command_s: float  # how long the restart command ran
    ready_s: float  # from the command's end to the first 2xx on ready_path

    def notice(self, ready_url: str) -> str:
        return (
            f"fresh target: target.restart.command took {self.command_s:.1f} s; "
            f"{ready_url} answered 2xx {self.ready_s:.1f} s later"
        )


def _last_line(text: str, redact: Callable[[str], str]) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return redact(lines[-1])[:300] if lines else ""


def restart_target(lp: LoadedPlan) -> tuple[Restarted, str]:
    """Run ``target.restart.command`` and wait for ``ready_path``; returns the timings and a one-line notice."""
    target = lp.plan.target
    restart = target.restart
    if restart is None:
        raise PlanError(
            "--fresh-target needs a restart command; add restart: {command: ..., ready_path: /healthz}",
            path=lp.path,
            key="target.restart",
        )
    argv = ["sh", "-c", restart.command] if isinstance(restart.command, str) else list(restart.command)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=restart.timeout_s,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TargetError(f"target.restart.command did not finish within {restart.timeout_s:g} s") from exc
    except OSError as exc:
        raise TargetError(f"target.restart.command cannot run: {exc.strerror or exc} ({argv[0]})") from exc
    command_s = time.monotonic() - started
    if proc.returncode != 0:
        detail = _last_line(proc.stderr, lp.secrets.redact) or _last_line(proc.stdout, lp.secrets.redact)
        raise TargetError(
            f"target.restart.command failed with exit code {proc.returncode}" + (f": {detail}" if detail else "")
        )
    url = target.base_url + restart.ready_path
    ready_s = _wait_ready(lp, url, restart.timeout_s)
    done = Restarted(command_s=command_s, ready_s=ready_s)
    return done, done.notice(url)


def _wait_ready(lp: LoadedPlan, url: str, timeout_s: float) -> float:
    started = time.monotonic()
    deadline = started + timeout_s
    last = "no answer yet"
    with target_client(lp, timeout_s=min(5.0, timeout_s)) as client:
        while True:
            try:
                response = client.get(url)
                if 200 <= response.status_code < 300:
                    return time.monotonic() - started
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = f"{exc.__class__.__name__}: {exc}"
            if time.monotonic() >= deadline:
                last = lp.secrets.redact(last)
                raise TargetError(f"after target.restart.command, {url} gave no 2xx within {timeout_s:g} s ({last})")
            time.sleep(_POLL_S)  # readiness polling interval, bounded by the deadline
