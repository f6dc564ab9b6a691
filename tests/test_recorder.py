"""HDR accounting: accuracy against known values, exact merges across recorders (workers)."""

from __future__ import annotations

import random

import numpy as np

from harness.recorder import BurstRound, Recorder, encode, new_histogram, record_us
from harness.results import analyse_bursts
from harness.stats import percentiles_ms, share_within


def _true_percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    # HdrHistogram's definition: the smallest value with at least p % of values at or below it
    idx = max(0, int(p / 100.0 * len(ordered) + 0.5) - 1)
    return ordered[idx]


def test_percentiles_within_0_1_percent_of_known_values() -> None:
    rng = np.random.default_rng(7)
    values_ms = list(rng.lognormal(mean=3.0, sigma=0.8, size=50_000))  # ~20 ms median, long tail
    hist = new_histogram()
    for v in values_ms:
        record_us(hist, round(v * 1000))
    got = percentiles_ms(hist)
    for p in (50.0, 95.0, 99.0):
        truth = _true_percentile([round(v * 1000) / 1000 for v in values_ms], p)
        assert abs(got[p] - truth) / truth <= 0.001, (p, got[p], truth)


def test_out_of_range_values_are_clamped_not_lost() -> None:
    hist = new_histogram()
    record_us(hist, 0)
    record_us(hist, 120_000_000)  # 120 s: beyond the 60 s range
    assert hist.get_total_count() == 2
    assert hist.get_max_value() >= 59_000_000


def test_share_within_budget() -> None:
    hist = new_histogram()
    for v in [100, 200, 299, 301, 500]:
        record_us(hist, v * 1000)
    assert share_within(hist, 300) == 0.6


def _feed(rec: Recorder, samples: list[tuple[str, float, float]]) -> None:
    for name, start, ms in samples:
        rec.record(("s", name, "direct"), start, ms)


def test_merge_of_worker_exports_equals_one_recorder_count_for_count() -> None:
    rng = random.Random(3)
    samples = [(rng.choice(["a", "b"]), 1000.0 + i * 0.01, rng.lognormvariate(2, 1)) for i in range(20_000)]
    single = Recorder(t0=1000.0)
    _feed(single, samples)
    workers = [Recorder(t0=1000.0) for _ in range(3)]
    for i, s in enumerate(samples):
        _feed(workers[i % 3], [s])
    master = Recorder(t0=1000.0)
    for w in workers:
        # workers ship in several reports, each resetting what was sent
        master.merge(w.export(reset=True))
        master.merge(w.export(reset=True))
    for key, s in single.series.items():
        m = master.series[key]
        assert m.count == s.count
        assert m.first_ms == s.first_ms
        for v in range(1, 200_000, 37):
            assert m.main.get_count_at_value(v) == s.main.get_count_at_value(v)
        assert m.main.get_total_count() == s.main.get_total_count()
        assert percentiles_ms(m.main)[95.0] == percentiles_ms(s.main)[95.0]
        assert encode(m.main) and m.main.get_max_value() == s.main.get_max_value()


def test_corrected_and_service_histograms_and_warmup() -> None:
    rec = Recorder(t0=0.0, warmup_s=1.0)
    key = ("steady", "x", "direct")
    rec.record(key, 0.5, 5.0, intended_wall=0.5)  # first request: kept apart
    rec.record(key, 0.6, 5.0, intended_wall=0.6)  # warm-up
    rec.record(key, 2.0, 5.0, intended_wall=1.5, late=True)  # left 500 ms late
    s = rec.series[key]
    assert s.first_ms == 5.0
    assert s.warmup is not None and s.warmup.get_total_count() == 1
    assert s.count == 1 and s.late == 1
    assert abs(percentiles_ms(s.main)[50.0] - 505.0) < 1.0
    assert s.service is not None and abs(percentiles_ms(s.service)[50.0] - 5.0) < 0.01


def test_head_of_line_flag_appears_only_when_requests_serialise() -> None:
    serial = [BurstRound("d", "direct", [10.0, 20.0, 30.0], [1.0, 1.0, 1.0], 10.0, 5.0, 5.0) for _ in range(5)]
    parallel = [BurstRound("d", "direct", [10.0, 11.0, 12.0], [1.0, 1.0, 1.001], 10.0, 5.0, 5.0) for _ in range(5)]
    assert analyse_bursts(serial, 3, "health")[0].head_of_line
    burst = analyse_bursts(parallel, 3, "health")[0]
    assert not burst.head_of_line
    assert abs(burst.send_skew_max_ms - 1.0) < 0.01


def test_bystander_slowed_during_bursts_is_flagged_but_noise_is_not() -> None:
    slowed = [BurstRound("d", "direct", [10.0, 11.0, 12.0], [1.0] * 3, 10.0, 120.0, 5.0) for _ in range(10)]
    noisy = [BurstRound("d", "direct", [10.0, 11.0, 12.0], [1.0] * 3, 10.0, 6.0, 2.0) for _ in range(10)]
    flagged = analyse_bursts(slowed, 3, "health")[0]
    assert flagged.head_of_line and "bystander health" in flagged.reason
    assert not analyse_bursts(noisy, 3, "health")[0].head_of_line


def test_long_runs_widen_timeline_buckets_instead_of_growing() -> None:
    from harness.recorder import MAX_TIMELINE_BUCKETS, timeline_bucket_s

    assert timeline_bucket_s(30) == 1.0
    assert timeline_bucket_s(3600) == 30.0
    rec = Recorder(t0=0.0, bucket_s=timeline_bucket_s(3600))
    for second in range(3600):
        rec.record(("s", "e", "direct"), second + 0.5, 3.0)
    (series,) = rec.series.values()
    assert len(series.timeline) <= MAX_TIMELINE_BUCKETS
