"""The command line: commands that do not send load never import Locust (or gevent's monkey-patching)."""

from __future__ import annotations

import json
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


def test_profiles_lists_the_presets_with_sources_and_the_backends_here() -> None:
    from harness.network.netem import detect_netem
    from harness.network.profiles import PRESETS

    text = subprocess.run(
        [sys.executable, "-m", "harness", "profiles"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert text.returncode == 0, text.stderr
    rows = {line.split()[0]: line for line in text.stdout.splitlines()[1 : 1 + len(PRESETS)]}
    assert set(rows) == set(PRESETS)
    assert "150 ms" in rows["slow-4g"] and "1600 kbit/s" in rows["slow-4g"] and "DevTools" in rows["slow-4g"]
    available, reason = detect_netem()
    assert ("netem available" if available else reason) in text.stdout
    as_json = subprocess.run(
        [sys.executable, "-m", "harness", "profiles", "--json"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    presets = {p["name"]: p for p in json.loads(as_json.stdout)}
    assert presets["3g"]["rtt_ms"] == PRESETS["3g"].rtt_ms and presets["3g"]["down_kbit"] == PRESETS["3g"].down_kbit
