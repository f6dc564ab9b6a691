"""Percentile error on 1 M lognormal samples: our HdrHistogram vs Locust's StatsEntry, against exact values."""

from __future__ import annotations

import json

import numpy as np
from locust.stats import StatsEntry

from harness.recorder import new_histogram, record_us

rng = np.random.default_rng(2026)
values_ms = np.round(rng.lognormal(mean=np.log(80), sigma=0.7, size=1_000_000), 3)
ordered = np.sort(values_ms)
hist = new_histogram()
entry = StatsEntry(None, "bench", "GET")  # type: ignore[arg-type]
for v in values_ms:
    record_us(hist, round(v * 1000))
    entry._log_response_time(float(v))
    entry.num_requests += 1
out: dict[str, dict[str, float]] = {"ours": {}, "locust": {}}
for p in (50.0, 95.0, 99.0, 99.9):
    truth = float(ordered[max(0, int(p / 100 * len(ordered) + 0.5) - 1)])
    ours = hist.get_value_at_percentile(p) / 1000.0
    theirs = float(entry.get_response_time_percentile(p / 100.0))
    key = f"{p:g}"
    out["ours"][key] = abs(ours - truth) / truth
    out["locust"][key] = abs(theirs - truth) / truth
print(json.dumps(out))
