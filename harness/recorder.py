"""HDR accounting: every sample, in microseconds, into per-(scenario, endpoint, profile) histograms.

The recorder is plain Python (no Locust): the load module feeds it from an ``events.request`` listener, workers
``export()`` what they recorded since their last report and the master ``merge()``s it exactly, count for count.
Percentiles are queried only when results are built, never per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000  # 60 s
SIGNIFICANT_DIGITS = 3
TIMELINE_DIGITS = 2  # timeline buckets are many and only need a rough p95 (~19 KB each)
MAX_TIMELINE_BUCKETS = 120  # per series: a long soak widens its buckets instead of growing memory


def timeline_bucket_s(duration_s: float) -> float:
    """Bucket width for a phase: one second for short runs, wider so a series never holds more than ~120."""
    return max(1.0, float(-(-int(duration_s) // MAX_TIMELINE_BUCKETS)))


Key = tuple[str, str, str]  # (scenario, endpoint, profile)


def new_histogram(digits: int = SIGNIFICANT_DIGITS) -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, digits)


def record_us(hist: HdrHistogram, value_us: int) -> None:
    """Record one value; out-of-range values are clamped, never silently dropped (record_value returns False)."""
    v = min(max(int(value_us), LOWEST_US), HIGHEST_US)
    if not hist.record_value(v):
        raise ValueError(f"HdrHistogram refused value {v} µs")


def encode(hist: HdrHistogram) -> str:
    """Compressed base64 encoding as text ('' for an empty histogram)."""
    if hist.get_total_count() == 0:
        return ""
    raw = hist.encode()
    return raw.decode("ascii") if isinstance(raw, bytes) else str(raw)


def merge_encoded(hist: HdrHistogram, encoded: str) -> None:
    if encoded:
        hist.decode_and_add(encoded)


@dataclass
class Series:
    """Everything recorded for one key."""

    main: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram | None = None
    warmup: HdrHistogram | None = None
    count: int = 0
    errors: int = 0
    bytes_total: int = 0
    late: int = 0
    dropped: int = 0
    first_start: float | None = None  # wall time of the first request's start
    first_ms: float | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_examples: dict[str, str] = field(default_factory=dict)
    timeline: dict[int, list[Any]] = field(default_factory=dict)  # bucket -> [hist, count, errors]


@dataclass
class BurstRound:
    endpoint: str
    profile: str
    latencies_ms: list[float]
    send_times: list[float]
    solo_ms: float | None = None
    bystander_during_ms: float | None = None
    bystander_outside_ms: float | None = None


class Recorder:
    """Collects samples; exports and merges them without loss."""

    def __init__(self, t0: float, warmup_s: float = 0.0, bucket_s: float = 1.0) -> None:
        self.t0 = t0
        self.warmup_s = warmup_s
        self.bucket_s = bucket_s
        self.series: dict[Key, Series] = {}
        self.bursts: list[BurstRound] = []
        self.total = 0
        self.total_errors = 0

    def _series(self, key: Key) -> Series:
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = Series()
        return s

    def record(
        self,
        key: Key,
        start_wall: float,
        response_ms: float,
        intended_wall: float | None = None,
        error_kind: str | None = None,
        error_example: str = "",
        size: int = 0,
        late: bool = False,
    ) -> None:
        """One finished request. With ``intended_wall`` the main histogram is corrected (from intended start)."""
        # hot path: called for every request, so it avoids helper calls where it can
        s = self.series.get(key) or self._series(key)
        self.total += 1
        service_us = int(response_ms * 1000.0)
        total_us = service_us
        if intended_wall is not None:
            if start_wall > intended_wall:
                total_us += int((start_wall - intended_wall) * 1_000_000)
            if s.service is None:
                s.service = new_histogram()
            if late:
                s.late += 1
        if error_kind is not None:
            s.errors += 1
            self.total_errors += 1
            s.error_kinds[error_kind] = s.error_kinds.get(error_kind, 0) + 1
            s.error_examples.setdefault(error_kind, error_example[:300])
        s.bytes_total += size
        since = start_wall - self.t0
        bucket = int(since / self.bucket_s) if since > 0 else 0
        tl = s.timeline.get(bucket)
        if tl is None:
            tl = s.timeline[bucket] = [new_histogram(TIMELINE_DIGITS), 0, 0]
        if not tl[0].record_value(total_us):
            record_us(tl[0], total_us)
        tl[1] += 1
        if error_kind is not None:
            tl[2] += 1
        if s.first_start is None or start_wall < s.first_start:
            # the first request to an endpoint is cold-start material, kept apart from the steady state
            if s.first_ms is not None:
                self._steady(s, int(s.first_ms * 1000), None, s.first_start or start_wall)
            s.first_start = start_wall
            s.first_ms = total_us / 1000.0
            return
        if intended_wall is None and since >= self.warmup_s:
            s.count += 1
            if not s.main.record_value(total_us):
                record_us(s.main, total_us)
            return
        self._steady(s, total_us, service_us if intended_wall is not None else None, start_wall)

    def _steady(self, s: Series, total_us: int, service_us: int | None, start_wall: float) -> None:
        if start_wall - self.t0 < self.warmup_s:
            if s.warmup is None:
                s.warmup = new_histogram()
            record_us(s.warmup, total_us)
            return
        s.count += 1
        record_us(s.main, total_us)
        if service_us is not None and s.service is not None:
            record_us(s.service, service_us)

    def add_dropped(self, key: Key, n: int) -> None:
        self._series(key).dropped += n

    def add_burst(self, burst: BurstRound) -> None:
        self.bursts.append(burst)

    # --- distribution across processes -------------------------------------------------------------
    def export(self, reset: bool = True) -> dict[str, Any]:
        """A JSON-able snapshot (histograms in compressed encoding); with reset, start afresh."""
        out: dict[str, Any] = {"series": [], "bursts": [b.__dict__ for b in self.bursts]}
        for key, s in self.series.items():
            out["series"].append(
                {
                    "key": list(key),
                    "main": encode(s.main),
                    "service": encode(s.service) if s.service else "",
                    "has_service": s.service is not None,
                    "warmup": encode(s.warmup) if s.warmup else "",
                    "count": s.count,
                    "errors": s.errors,
                    "bytes_total": s.bytes_total,
                    "late": s.late,
                    "dropped": s.dropped,
                    "first_start": s.first_start,
                    "first_ms": s.first_ms,
                    "error_kinds": dict(s.error_kinds),
                    "error_examples": dict(s.error_examples),
                    "timeline": {str(b): [encode(tl[0]), tl[1], tl[2]] for b, tl in s.timeline.items()},
                }
            )
        if reset:
            self.series = {}
            self.bursts = []
        return out

    def merge(self, data: dict[str, Any]) -> None:
        """Add a snapshot from another recorder (a worker) exactly."""
        for b in data.get("bursts", []):
            self.bursts.append(BurstRound(**b))
        for item in data.get("series", []):
            key: Key = (item["key"][0], item["key"][1], item["key"][2])
            s = self._series(key)
            merge_encoded(s.main, item["main"])
            if item["has_service"]:
                if s.service is None:
                    s.service = new_histogram()
                merge_encoded(s.service, item["service"])
            if item["warmup"]:
                if s.warmup is None:
                    s.warmup = new_histogram()
                merge_encoded(s.warmup, item["warmup"])
            s.count += item["count"]
            s.errors += item["errors"]
            self.total += item["count"] + (1 if item["first_ms"] is not None else 0)
            self.total_errors += item["errors"]
            s.bytes_total += item["bytes_total"]
            s.late += item["late"]
            s.dropped += item["dropped"]
            for kind, n in item["error_kinds"].items():
                s.error_kinds[kind] = s.error_kinds.get(kind, 0) + n
            for kind, ex in item["error_examples"].items():
                s.error_examples.setdefault(kind, ex)
            for b, (enc, n, e) in item["timeline"].items():
                tl = s.timeline.get(int(b))
                if tl is None:
                    tl = s.timeline[int(b)] = [new_histogram(TIMELINE_DIGITS), 0, 0]
                merge_encoded(tl[0], enc)
                tl[1] += n
                tl[2] += e
            if item["first_ms"] is not None:
                # only one first request per key across workers; the later ones join the steady state
                if s.first_start is None or item["first_start"] < s.first_start:
                    if s.first_ms is not None and s.first_start is not None:
                        self._steady(s, int(s.first_ms * 1000), None, s.first_start)
                    s.first_start = item["first_start"]
                    s.first_ms = item["first_ms"]
                else:
                    self._steady(s, int(item["first_ms"] * 1000), None, item["first_start"])
