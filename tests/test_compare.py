"""Nightly regression comparison from saved results."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.compare import compare
from harness.model import RunResult

SMALL = Path(__file__).parent / "fixtures" / "results" / "small.json"


def _load() -> RunResult:
    return RunResult.from_dict(json.loads(SMALL.read_text()))


def test_identical_runs_do_not_regress() -> None:
    base = _load()
    result = compare(base, copy.deepcopy(base))
    assert not result.regressed
    assert result.changes and all(c.change_pct == 0 for c in result.changes)


def test_slower_p95_regresses_and_noise_does_not() -> None:
    base = _load()
    cur = copy.deepcopy(base)
    measured = [e for e in cur.endpoints if e.count > 0 and e.p95_ms > 10]
    slow, fast = measured[0], measured[-1]
    slow.p95_ms *= 1.5
    fast.p95_ms += 0.5  # tiny absolute change: below min_ms whatever the percentage
    result = compare(base, cur, threshold_pct=10, min_ms=5)
    regressed = {(c.endpoint, c.profile) for c in result.changes if c.regressed}
    assert (slow.name, slow.profile) in regressed
    assert len(regressed) == 1


def test_cli_exit_codes_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _load()
    cur = copy.deepcopy(base)
    for e in cur.endpoints:
        e.p95_ms = e.p95_ms * 2 + 10
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(base.to_dict()))
    b.write_text(json.dumps(cur.to_dict()))
    assert main(["compare", str(a), str(a)]) == 0
    assert main(["compare", str(a), str(b), "--markdown", str(tmp_path / "c.md")]) == 1
    assert "REGRESSED" in (tmp_path / "c.md").read_text()
    assert main(["compare", str(a), str(tmp_path / "missing.json")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_history_lines_append_and_skip_a_cut_line(tmp_path: Path) -> None:
    from harness.history import append_history, read_history

    base = _load()
    append_history(tmp_path, base)
    with (tmp_path / "history.jsonl").open("a") as f:
        f.write('{"run_id": "cut sho')
    append_history(tmp_path, base)
    rows = read_history(tmp_path)
    assert [r["run_id"] for r in rows] == [base.run_id, base.run_id]
    assert rows[0]["p95_ms"] and rows[0]["passed"] == base.verdict.passed
