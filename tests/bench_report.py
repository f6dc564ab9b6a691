"""Time rendering the 50-route x 4-profile fixture (``make bench``; not collected by pytest).

    .venv/bin/python tests/bench_report.py [runs]

Prints the median wall time of ``render_all`` (HTML + Markdown + JUnit, written atomically) and of
``render_html`` alone, plus the report size.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.model import RunResult  # noqa: E402
from reports.render import render_all, render_html  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "results" / "large.json"


def main(argv: list[str]) -> int:
    runs = int(argv[0]) if argv else 7
    result = RunResult.from_dict(json.loads(FIXTURE.read_text(encoding="utf-8")))
    assets = FIXTURE.parent
    render_html(result, assets_dir=assets)  # warm-up: template compile, imports
    all_times: list[float] = []
    html_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            start = time.perf_counter()
            paths = render_all(result, Path(tmp), assets_dir=assets)
            all_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            render_html(result, assets_dir=assets)
            html_times.append(time.perf_counter() - start)
        size = paths["html"].stat().st_size
    print(
        f"render_all large (50 routes x 4 profiles, {len(result.endpoints)} endpoint results): "
        f"median {statistics.median(all_times) * 1000:.0f} ms over {runs} runs "
        f"(min {min(all_times) * 1000:.0f} ms, max {max(all_times) * 1000:.0f} ms); "
        f"render_html median {statistics.median(html_times) * 1000:.0f} ms; report.html {size / 1024:.0f} KB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
