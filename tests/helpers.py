"""Running the real CLI in a subprocess (Locust monkey-patches whatever process imports it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def rehearse(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full_env,
        timeout=timeout,
    )


def load_results(out: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / run_id / "results.json").read_text())
    return data


def write_plan(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
