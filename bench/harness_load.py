"""The harness's own load path (scenario driver + HDR listener + recorder), closed loop at full speed.

Usage: python bench/harness_load.py URL DURATION USERS. Prints requests/s as JSON. Uses the same 1 s ramp
exclusion as raw_locust.py so the two are measured the same way.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness.loadrun import run_local
from harness.phase import Phase
from harness.plan import load_plan
from harness.recorder import Recorder

URL, DURATION, USERS = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])

plan = Path(tempfile.mkdtemp()) / "plan.yaml"
plan.write_text(
    f"target: {{base_url: '{URL}'}}\n"
    "endpoints: [{name: root, path: /, auth: false}]\n"
    f"scenarios: {{demo_session: {{users: {USERS}, steps: [root], think_time_s: [0, 0]}}}}\n"
    "run: {duration_s: 600, max_requests: 100000000}\n"
)
lp = load_plan(plan)
recorder = Recorder(t0=time.time())
marks: dict[str, float] = {}


def tick(elapsed: float) -> None:
    if elapsed >= 1.0 and "t0" not in marks:
        marks["t0"], marks["c0"] = time.time(), recorder.total
    if "t0" in marks and time.time() - marks["t0"] >= DURATION:
        marks["t1"], marks["c1"] = time.time(), recorder.total
        stop.set()


stop = threading.Event()
run_local(lp, Phase("direct", None, DURATION + 30, 10**9), recorder, tick, stop_flag=stop.is_set)
print(
    json.dumps(
        {
            "rps": (marks["c1"] - marks["c0"]) / (marks["t1"] - marks["t0"]),
            "requests": marks["c1"] - marks["c0"],
        }
    )
)
