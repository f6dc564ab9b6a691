"""Run history for nightly use: one JSON line per run in ``<out>/history.jsonl``, appended atomically enough
(one ``write`` of one line in append mode) for a scheduler running one rehearsal at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.model import RunResult

HISTORY_FILE = "history.jsonl"


def history_line(result: RunResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "started_at": result.started_at,
        "target": result.target,
        "plan_sha256": result.plan_sha256,
        "status": result.status,
        "passed": result.verdict.passed,
        "p95_ms": {f"{e.scenario}/{e.name}/{e.profile}": round(e.p95_ms, 3) for e in result.endpoints if e.count},
    }


def append_history(out_root: Path, result: RunResult) -> Path:
    path = out_root / HISTORY_FILE
    out_root.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(history_line(result), separators=(",", ":")) + "\n").encode("utf-8")
    with path.open("a+b") as f:
        f.seek(0, 2)
        if f.tell() > 0:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                line = b"\n" + line  # a line cut short by a crash stays alone and is skipped on reading
        f.write(line)
    return path


def read_history(out_root: Path) -> list[dict[str, Any]]:
    path = out_root / HISTORY_FILE
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash is skipped, not fatal
    return rows
