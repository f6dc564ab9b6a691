"""Reading figures out of HDR histograms (microseconds in, milliseconds out)."""

from __future__ import annotations

import statistics

from hdrh.histogram import HdrHistogram

PERCENTILES = (50.0, 95.0, 99.0, 99.9)


def percentiles_ms(hist: HdrHistogram, pcts: tuple[float, ...] = PERCENTILES) -> dict[float, float]:
    if hist.get_total_count() == 0:
        return dict.fromkeys(pcts, 0.0)
    values = hist.get_percentile_to_value_dict(list(pcts))
    return {p: values[p] / 1000.0 for p in pcts}


def max_ms(hist: HdrHistogram) -> float:
    return hist.get_max_value() / 1000.0 if hist.get_total_count() else 0.0


def mean_ms(hist: HdrHistogram) -> float:
    return hist.get_mean_value() / 1000.0 if hist.get_total_count() else 0.0


def share_within(hist: HdrHistogram, limit_ms: float) -> float:
    """Share of recorded values at or under the limit (values equivalent to the limit count as within)."""
    total = hist.get_total_count()
    if total == 0:
        return 0.0
    limit_us = int(limit_ms * 1000)
    within = 0
    for item in hist.get_recorded_iterator():
        if item.value_iterated_to <= hist.get_highest_equivalent_value(limit_us):
            within += item.count_added_in_this_iter_step
        else:
            break
    return float(within) / float(total)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]
