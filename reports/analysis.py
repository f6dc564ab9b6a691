"""Pure functions over a ``RunResult``: what is slow, where, and why. No I/O, no rendering."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from hdrh.histogram import HdrHistogram

from harness.model import Breach, EndpointResult, ErrorSample, MobileStep, RunResult
from reports.text import fmt_ms as _fmt

Status = Literal["pass", "near", "fail", "none"]
RouteKey = tuple[str, str, str]  # (scenario, method, path)

# A route whose network floor is at most this share of its budget cannot blame the network.
FLOOR_FAR_BELOW = 0.25
# Where the network floor alone eats at least this share of the budget, the network is a fair suspect.
FLOOR_DOMINANT = 0.5
# "near" budget: within budget but with less than this headroom left.
NEAR_BUDGET = 0.8
# Percentile-distribution x axis, as HdrHistogram's plotter draws it: 1 / (1 - p), log scale.
DEFAULT_X_END = 1e4  # 99.99 %


def ratio_of(ep: EndpointResult) -> float | None:
    """p95 ÷ budget, or None when nothing was measured or no budget applies."""
    if ep.count <= 0 or ep.budget_ms <= 0:
        return None
    return ep.p95_ms / ep.budget_ms


def status_of(ratio: float | None) -> Status:
    if ratio is None:
        return "none"
    if ratio > 1:
        return "fail"
    if ratio > NEAR_BUDGET:
        return "near"
    return "pass"


def error_rate(ep: EndpointResult) -> float | None:
    total = ep.requests or ep.count  # results before `requests` existed only had the steady count
    return ep.errors / total if total > 0 else None


def route_label(ep: EndpointResult) -> str:
    return f"{ep.method} {ep.path}"


def slug(text: str) -> str:
    """An HTML-id-safe slug, stable for a given text."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:60] or "x"


def profile_order(result: RunResult) -> list[str]:
    """Profiles in the order the plan listed them (``settings['profiles']``), then any others as seen."""
    order: list[str] = []
    declared: Any = result.settings.get("profiles") if isinstance(result.settings, dict) else None
    if isinstance(declared, dict):
        declared = list(declared)
    if isinstance(declared, list):
        for item in declared:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and name not in order:
                order.append(name)
    seen = [ep.profile for ep in result.endpoints]
    order_set = set(order)
    for name in seen:
        if name not in order_set:
            order.append(name)
            order_set.add(name)
    # Only show profiles that were measured, unless nothing was.
    measured = set(seen)
    return [p for p in order if p in measured] if measured else order


@dataclass
class RouteSummary:
    """One route (scenario, method, path) across every profile it was measured on."""

    key: RouteKey
    label: str
    name: str
    scenario: str
    anchor: str
    by_profile: dict[str, EndpointResult]
    worst: EndpointResult
    ratio: float | None
    status: Status
    over_everywhere: bool
    floor_ms: float | None
    hint: str | None = None
    hint_kind: Literal["server", "network", ""] = ""

    @property
    def error_rate(self) -> float | None:
        count = sum(ep.requests or ep.count for ep in self.by_profile.values())
        errors = sum(ep.errors for ep in self.by_profile.values())
        return errors / count if count else None


def _diagnose(measured: Sequence[EndpointResult]) -> tuple[str | None, Literal["server", "network", ""]]:
    """Tell "server time, not network" from "the network floor eats the budget", when the data says so."""
    over = [ep for ep in measured if (ratio_of(ep) or 0) > 1]
    if not over:
        return None, ""
    known = [ep for ep in measured if ep.floor_ms is not None]
    if len(over) == len(measured) and known:
        # Over budget even where the network costs least: the time is spent in the server.
        least = min(known, key=lambda ep: ep.floor_ms or 0.0)
        floor = least.floor_ms or 0.0
        if floor <= FLOOR_FAR_BELOW * least.budget_ms:
            where = "every profile" if len(measured) > 1 else measured[0].profile
            return (
                f"server time, not network: over budget on {where}, even on {least.profile} where the "
                f"network floor ({_fmt(floor)}) is far below the {_fmt(least.budget_ms)} budget",
                "server",
            )
    blamed = [ep for ep in over if ep.floor_ms is not None and ep.floor_ms >= FLOOR_DOMINANT * ep.budget_ms]
    if blamed and len(blamed) == len(over) and len(over) < len(measured):
        names = ", ".join(ep.profile for ep in blamed)
        return f"network-bound: over budget only on {names}, where the network floor alone is most of it", ("network")
    return None, ""


def summarize_routes(result: RunResult) -> list[RouteSummary]:
    """Group endpoint results by route and rank them by p95 ÷ budget, worst first."""
    groups: dict[RouteKey, dict[str, EndpointResult]] = {}
    for ep in result.endpoints:
        groups.setdefault((ep.scenario, ep.method, ep.path), {})[ep.profile] = ep
    summaries: list[RouteSummary] = []
    used_anchors: set[str] = set()
    for key, by_profile in groups.items():
        measured = [ep for ep in by_profile.values() if ep.count > 0]
        if not measured and not any(ep.errors for ep in by_profile.values()):
            continue  # seen only in warm-up or as a first request: it is in "All endpoints" and cold starts
        pool = measured or list(by_profile.values())
        worst = max(pool, key=lambda ep: (ratio_of(ep) or -1.0, ep.p95_ms))
        ratio = ratio_of(worst)
        hint, kind = _diagnose(measured)
        floors = [ep.floor_ms for ep in pool if ep.floor_ms is not None]
        anchor = "route-" + slug(f"{key[0]}-{key[1]}-{key[2]}")
        while anchor in used_anchors:
            anchor += "-x"
        used_anchors.add(anchor)
        summaries.append(
            RouteSummary(
                key=key,
                label=route_label(worst),
                name=worst.name,
                scenario=worst.scenario,
                anchor=anchor,
                by_profile=by_profile,
                worst=worst,
                ratio=ratio,
                status=status_of(ratio),
                over_everywhere=bool(measured) and all((ratio_of(ep) or 0) > 1 for ep in measured),
                floor_ms=worst.floor_ms if worst.floor_ms is not None else (max(floors) if floors else None),
                hint=hint,
                hint_kind=kind,
            )
        )
    summaries.sort(key=lambda r: (r.ratio is None, -(r.ratio or 0.0), -r.worst.p95_ms, r.label))
    return summaries


@dataclass
class MatrixCell:
    p95_ms: float
    budget_ms: float
    floor_ms: float | None
    ratio: float | None
    status: Status
    count: int


@dataclass
class ProfileMatrix:
    profiles: list[str]
    rows: list[tuple[RouteSummary, list[MatrixCell | None]]]
    floors: dict[str, float | None]  # the smallest known floor seen per profile
    budgets: dict[str, float | None] = field(default_factory=dict)  # a profile's budget, when all its routes share it


def profile_matrix(result: RunResult, routes: Sequence[RouteSummary] | None = None) -> ProfileMatrix:
    """Endpoint x profile p95 matrix (rows in slow-route order), with each profile's network floor."""
    profiles = profile_order(result)
    routes = summarize_routes(result) if routes is None else routes
    rows: list[tuple[RouteSummary, list[MatrixCell | None]]] = []
    for route in routes:
        cells: list[MatrixCell | None] = []
        for profile in profiles:
            ep = route.by_profile.get(profile)
            if ep is None:
                cells.append(None)
                continue
            ratio = ratio_of(ep)
            cells.append(MatrixCell(ep.p95_ms, ep.budget_ms, ep.floor_ms, ratio, status_of(ratio), ep.count))
        rows.append((route, cells))
    floors: dict[str, float | None] = {}
    for profile in profiles:
        known = [ep.floor_ms for ep in result.endpoints if ep.profile == profile and ep.floor_ms is not None]
        floors[profile] = min(known) if known else None
    budgets: dict[str, float | None] = {}
    for i, profile in enumerate(profiles):
        seen = {cell.budget_ms for _, cells in rows if (cell := cells[i]) is not None}
        budgets[profile] = seen.pop() if len(seen) == 1 else None
    return ProfileMatrix(profiles=profiles, rows=rows, floors=floors, budgets=budgets)


@dataclass
class MobileStepRow:
    name: str
    budget_ms: float | None  # None when the flows gave this step different budgets (or none)
    cells: list[MobileStep | None]  # one per flow, in result order


def mobile_step_rows(result: RunResult) -> list[MobileStepRow]:
    """Mobile steps x flows (baseline, under load per profile): each step's time side by side."""
    flows = result.mobile or []
    names: list[str] = []
    for flow in flows:
        names += [step.name for step in flow.steps if step.name not in names]
    rows: list[MobileStepRow] = []
    for name in names:
        cells = [next((step for step in flow.steps if step.name == name), None) for flow in flows]
        budgets = {c.budget_ms for c in cells if c is not None and c.budget_ms is not None}
        rows.append(MobileStepRow(name, budgets.pop() if len(budgets) == 1 else None, cells))
    return rows


@dataclass
class Distribution:
    """Latency (ms) at percentiles 0…100, ready to plot on HdrHistogram's 1/(1-p) axis."""

    points: list[tuple[float, float]]
    count: int
    max_ms: float


def decode_hdr(encoded: str) -> HdrHistogram | None:
    """Decode a compressed HdrHistogram; None when empty or unreadable (a report never dies on one)."""
    if not encoded:
        return None
    try:
        return HdrHistogram.decode(encoded)
    except Exception:  # foreign codec errors: zlib, base64, struct — the chart is skipped, not the report
        return None


def _index_values(hist: HdrHistogram, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) equivalent values for counts-array indices (vectorized ``get_value_from_index``)."""
    half_mag = hist.sub_bucket_half_count_magnitude
    half = hist.sub_bucket_half_count
    bucket = (index >> half_mag) - 1
    sub = (index & (half - 1)) + half
    low = bucket < 0
    sub = np.where(low, sub - half, sub)
    bucket = np.where(low, 0, bucket)
    shift = bucket + hist.unit_magnitude
    value = sub << shift
    return value, value + (np.int64(1) << shift) - 1


def percentile_values(hist: HdrHistogram, percentiles: Iterable[float]) -> list[float]:
    """Values (histogram units) at the given percentiles, the same as ``get_value_at_percentile``."""
    counts = np.ctypeslib.as_array(hist.counts)[: hist.counts_len].astype(np.int64)
    nonzero = np.flatnonzero(counts)
    total = int(counts.sum())
    if total == 0 or nonzero.size == 0:
        return [0.0 for _ in percentiles]
    cumulative = np.cumsum(counts[nonzero])
    lows, values = _index_values(hist, nonzero.astype(np.int64))
    pct = np.minimum(np.asarray(list(percentiles), dtype=float), 100.0)
    targets = np.maximum((pct * total / 100 + 0.5).astype(np.int64), 1)
    positions = np.minimum(np.searchsorted(cumulative, targets, side="left"), nonzero.size - 1)
    # At 0 % HdrHistogram reports the lowest equivalent value of the first bucket, not its top.
    result = np.where(pct <= 0, lows[positions], values[positions]).astype(float)
    return [float(v) for v in result]


def percentile_distribution(
    encoded: str, *, x_end: float = DEFAULT_X_END, points: int = 48, unit_ms: float = 1e-3
) -> Distribution | None:
    """Percentile series from an encoded histogram (µs by default), evenly spaced on log10(1/(1-p))."""
    hist = decode_hdr(encoded)
    if hist is None or hist.get_total_count() == 0:
        return None
    log_end = math.log10(max(x_end, 10.0))
    xs = np.linspace(0.0, log_end, points)
    pcts = [100.0 * (1.0 - 10.0 ** (-x)) for x in xs]
    values = percentile_values(hist, pcts)
    series = [(round(p, 5), v * unit_ms) for p, v in zip(pcts, values, strict=True)]
    return Distribution(
        points=series,
        count=int(hist.get_total_count()),
        max_ms=float(hist.get_max_value()) * unit_ms,
    )


@dataclass
class ErrorKind:
    kind: str
    count: int
    samples: list[ErrorSample] = field(default_factory=list)

    @property
    def endpoints(self) -> int:
        return len({s.endpoint for s in self.samples})


def errors_by_kind(result: RunResult) -> list[ErrorKind]:
    """Errors grouped by kind, most frequent first; falls back to per-endpoint ``error_kinds`` counts."""
    samples = list(result.errors)
    if not samples:
        for ep in result.endpoints:
            for kind, count in ep.error_kinds.items():
                samples.append(ErrorSample(endpoint=f"{route_label(ep)} [{ep.profile}]", kind=kind, count=count))
    kinds: dict[str, ErrorKind] = {}
    for sample in samples:
        entry = kinds.setdefault(sample.kind, ErrorKind(kind=sample.kind, count=0))
        entry.count += sample.count
        entry.samples.append(sample)
    for entry in kinds.values():
        entry.samples.sort(key=lambda s: -s.count)
    return sorted(kinds.values(), key=lambda k: (-k.count, k.kind))


@dataclass
class Overview:
    requests: int
    errors: int
    routes: int
    routes_over: int
    profiles: list[str]
    duration_s: float | None


def overview(result: RunResult, routes: Sequence[RouteSummary]) -> Overview:
    duration: float | None = None
    try:
        start = datetime.fromisoformat(result.started_at)
        end = datetime.fromisoformat(result.finished_at)
        duration = max((end - start).total_seconds(), 0.0)
    except (TypeError, ValueError):
        duration = None
    return Overview(
        requests=sum(ep.requests or ep.count for ep in result.endpoints),
        errors=sum(ep.errors for ep in result.endpoints),
        routes=len(routes),
        routes_over=sum(1 for r in routes if r.status == "fail"),
        profiles=profile_order(result),
        duration_s=duration,
    )


def breach_sentence(endpoint: str, metric: str, value_ms: float, budget_ms: float, profile: str) -> str:
    """``GET /x: p95 1,240 ms is over its 300 ms budget (4.1x) on broadband``."""
    ratio = f" ({value_ms / budget_ms:.1f}\u00d7)" if budget_ms > 0 else ""
    return f"{endpoint}: {metric} {_fmt(value_ms)} is over its {_fmt(budget_ms)} budget{ratio} on {profile}"


def verdict_lines(result: RunResult, *, max_breaches: int = 5) -> tuple[list[str], int]:
    """Plain-words reasons for the verdict: the verdict's own reasons, then the worst breach per route.

    A route over budget on several profiles gets one line (its worst) naming the others. Returns the lines
    and how many routes with breaches were left out.
    """
    lines = list(result.verdict.reasons)
    by_route: dict[tuple[str, str, str], list[Breach]] = {}
    for breach in result.verdict.breaches:
        by_route.setdefault((breach.scenario, breach.endpoint, breach.metric), []).append(breach)

    def severity(b: Breach) -> float:
        return b.value_ms / b.budget_ms if b.budget_ms > 0 else math.inf

    groups = sorted((sorted(g, key=severity, reverse=True) for g in by_route.values()), key=lambda g: -severity(g[0]))
    for group in groups[:max_breaches]:
        worst = group[0]
        # the engine's own sentence already names route, figure, budget, scenario and profile
        line = worst.reason or breach_sentence(
            worst.endpoint, worst.metric, worst.value_ms, worst.budget_ms, worst.profile
        )
        others = [b.profile for b in group[1:] if b.profile != worst.profile]
        if others:
            line += f" (also over on {', '.join(others)})"
        lines.append(line)
    return lines, max(len(groups) - max_breaches, 0)
