"""Small facts about a run that need no load generator: its id, the time, the machine, rendering its reports."""

from __future__ import annotations

import os
import platform
import socket
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.model import RunResult


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def machine_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def render_reports(result: RunResult, out_dir: Path) -> dict[str, Path]:
    from reports.render import render_all

    return render_all(result, out_dir)
