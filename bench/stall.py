"""Corrected vs naive p95 against a server that stalls 1 s every 5 s, with the truth from the stall schedule."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import StallServer

server = StallServer(stall_ms=1000, every_s=5.0, first_stall_after_s=1.0)
url = server.start()
tmp = Path(tempfile.mkdtemp())
plan = tmp / "plan.yaml"
plan.write_text(
    "target: {base_url: 'http://127.0.0.1:9'}\n"
    "endpoints: [{name: stall, path: /stall, auth: false}]\n"
    "scenarios: {steady: {rates: {stall: 40}, users: 4}}\n"
    "run: {duration_s: 20, max_requests: 100000}\n"
)
try:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            str(plan),
            "--out",
            str(tmp),
            "--run-id",
            "s",
            "--base-url",
            url,
        ],
        capture_output=True,
        timeout=120,
    )
finally:
    server.stop()
e = json.loads((tmp / "s" / "results.json").read_text())["endpoints"][0]
print(
    json.dumps(
        {
            "timeline": [(b["t_s"], b["count"], round(b["p95_ms"])) for b in e["timeline"]],
            "corrected_p95": e["p95_ms"],
            "naive_p95": e["service"]["p95_ms"],
            "truth_p95": server.true_percentile_band_ms(95.0, rate=40, slots=e["count"], base_ms=1.0),
        }
    )
)
