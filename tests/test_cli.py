"""The command line: commands that do not send load never import Locust (or gevent's monkey-patching)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

SMALL = REPO / "tests" / "fixtures" / "results" / "small.json"


def test_report_validate_and_compare_do_not_import_locust(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from harness.cli import main\n"
        f"rc = [main(['report', {str(SMALL)!r}, '--out', {str(tmp_path)!r}]),\n"
        f"      main(['validate', {str(REPO / 'tests/fixtures/plans/valid_minimal.yaml')!r}]),\n"
        f"      main(['compare', {str(SMALL)!r}, {str(SMALL)!r}])]\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent'))\n"
        "print(rc, bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("[]")
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (tmp_path / name).stat().st_size > 0


def test_unexpected_errors_are_one_line_with_exit_3(tmp_path: Path) -> None:
    broken = tmp_path / "results.json"
    broken.write_text('{"schema_version": 1, "run_id": "x"}')  # required fields missing
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(broken)], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert proc.returncode in (2, 3)
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
