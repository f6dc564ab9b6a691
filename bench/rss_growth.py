"""RSS growth while the recorder takes 1 M requests over 10 endpoints and a 60 s timeline."""

from __future__ import annotations

import json
import random

from harness.recorder import Recorder


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


rng = random.Random(1)
rec = Recorder(t0=0.0)
names = [f"endpoint-{i}" for i in range(10)]
# warm: create every series and bucket first, then measure growth per recorded request
for i in range(10_000):
    rec.record(("s", names[i % 10], "direct"), (i % 60) + 0.5, rng.lognormvariate(3, 1))
before = rss_kib()
n = 1_000_000
for i in range(n):
    rec.record(("s", names[i % 10], "direct"), (i % 60) + 0.5, rng.lognormvariate(3, 1))
after = rss_kib()
print(
    json.dumps(
        {
            "mib_per_million": (after - before) / 1024 * (1_000_000 / n),
            "before_kib": before,
            "after_kib": after,
        }
    )
)
