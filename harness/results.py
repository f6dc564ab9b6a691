"""Recorder + plan → ``RunResult``; saving and loading ``results.json`` (atomic, versioned)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import ReportError
from harness.model import (
    SCHEMA_VERSION,
    Burst,
    ColdStart,
    EndpointResult,
    ErrorSample,
    RunResult,
    ServiceTime,
    TimeBucket,
)
from harness.plan import Plan
from harness.recorder import BurstRound, Recorder, Series, encode, new_histogram
from harness.stats import max_ms, mean_ms, median, p95, percentiles_ms, share_within

COLD_RATIO = 3.0
BYSTANDER_MIN_MS = 25.0  # below this, a shared 2-core machine makes "> 2x" flip on scheduling noise


def endpoint_meta(plan: Plan, name: str) -> tuple[str, str, float]:
    """Method, path and budget of an endpoint name as recorded (``login`` is the plan's login step)."""
    if name == "login" and plan.login is not None and name not in {e.name for e in plan.endpoints}:
        return plan.login.method, plan.login.path, plan.login.budget_ms
    try:
        ep = plan.endpoint(name)
    except KeyError:
        return "GET", name, plan.budget_ms
    return ep.method, ep.path, plan.budget_for(ep)


def build_endpoint(
    plan: Plan, key: tuple[str, str, str], s: Series, budgets: dict[str, float], bucket_s: float = 1.0
) -> EndpointResult:
    scenario, name, profile = key
    method, path, budget = endpoint_meta(plan, name)
    if profile in budgets:
        budget = max(budget, budgets[profile])
    pct = percentiles_ms(s.main)
    service = None
    if s.service is not None:
        sp = percentiles_ms(s.service)
        service = ServiceTime(
            p50_ms=sp[50.0],
            p95_ms=sp[95.0],
            p99_ms=sp[99.0],
            max_ms=max_ms(s.service),
            hdr=encode(s.service),
        )
    total = s.count + (1 if s.first_ms is not None else 0) + (s.warmup.get_total_count() if s.warmup else 0)
    timeline = []
    for bucket in sorted(s.timeline):
        hist, n, errs = s.timeline[bucket]
        tp = percentiles_ms(hist, (50.0, 95.0))
        timeline.append(TimeBucket(t_s=bucket * bucket_s, count=n, errors=errs, p50_ms=tp[50.0], p95_ms=tp[95.0]))
    return EndpointResult(
        name=name,
        method=method,
        path=path,
        scenario=scenario,
        profile=profile,
        count=s.count,
        errors=s.errors,
        requests=total,
        p50_ms=pct[50.0],
        p95_ms=pct[95.0],
        p99_ms=pct[99.0],
        p999_ms=pct[99.9],
        max_ms=max_ms(s.main),
        mean_ms=mean_ms(s.main),
        budget_ms=budget,
        within_budget_share=share_within(s.main, budget),
        hdr=encode(s.main),
        error_kinds=dict(s.error_kinds),
        bytes_mean=s.bytes_total / total if total else 0.0,
        service=service,
        late=s.late,
        dropped=s.dropped,
        first_request_ms=s.first_ms,
        warmup_count=s.warmup.get_total_count() if s.warmup else 0,
        warmup_hdr=encode(s.warmup) if s.warmup else "",
        timeline=timeline,
    )


def is_cold_start(first_ms: float, warm_p50_ms: float, budget_ms: float) -> bool:
    """Flagged when the first request exceeds both the budget and 3x the warm p50 (a warm p50 must exist)."""
    return warm_p50_ms > 0 and first_ms > budget_ms and first_ms > COLD_RATIO * warm_p50_ms


def cold_starts(recorder: Recorder, endpoints: list[EndpointResult], kind: str = "deploy") -> list[ColdStart]:
    """The first request to each endpoint in the run (earliest across scenarios) against its warm median.

    Warm means every steady-state sample of that endpoint on that profile, all scenarios merged. A cold start is
    flagged when the first request exceeds both the budget and 3x the warm p50.
    """
    groups: dict[tuple[str, str], list[Series]] = {}
    for (_, name, profile), series in recorder.series.items():
        groups.setdefault((name, profile), []).append(series)
    budgets = {(e.name, e.profile): e.budget_ms for e in endpoints}
    out = []
    for (name, profile), group in sorted(groups.items()):
        firsts = [g for g in group if g.first_start is not None and g.first_ms is not None]
        if not firsts:
            continue
        earliest = min(firsts, key=lambda g: g.first_start or 0.0)
        first = float(earliest.first_ms or 0.0)
        merged = new_histogram()
        for g in group:
            merged.add(g.main)
        warm_p50 = percentiles_ms(merged, (50.0,))[50.0]
        ratio = first / warm_p50 if warm_p50 > 0 else 0.0
        budget = budgets.get((name, profile), 0.0)
        flagged = is_cold_start(first, warm_p50, budget)
        out.append(
            ColdStart(
                endpoint=name,
                first_ms=first,
                warm_p50_ms=warm_p50,
                ratio=ratio,
                kind=kind,
                flagged=flagged,
                profile=profile,
            )
        )
    return out


def analyse_bursts(rounds: list[BurstRound], k: int, bystander: str) -> list[Burst]:
    """Per (endpoint, profile): spreads, send skew, and the head-of-line flag."""
    groups: dict[tuple[str, str], list[BurstRound]] = {}
    for r in rounds:
        groups.setdefault((r.endpoint, r.profile), []).append(r)
    out = []
    for (endpoint, profile), rs in sorted(groups.items()):
        solos = [r.solo_ms for r in rs if r.solo_ms is not None]
        slowest = [max(r.latencies_ms) for r in rs if r.latencies_ms]
        spreads = [max(r.latencies_ms) - min(r.latencies_ms) for r in rs if r.latencies_ms]
        skews = [(max(r.send_times) - min(r.send_times)) * 1000.0 for r in rs if r.send_times]
        during = [r.bystander_during_ms for r in rs if r.bystander_during_ms is not None]
        outside = [r.bystander_outside_ms for r in rs if r.bystander_outside_ms is not None]
        solo_p50 = median(solos)
        slowest_p50 = median(slowest)
        during_p95, outside_p95 = p95(during), p95(outside)
        reasons = []
        kk = len(rs[0].latencies_ms) if rs and rs[0].latencies_ms else k
        if solo_p50 > 0 and slowest_p50 >= (kk - 0.5) * solo_p50:
            reasons.append(
                f"the slowest of {kk} simultaneous requests took {slowest_p50:.0f} ms at p50, "
                f"≥ {kk - 0.5:g}× the solo {solo_p50:.0f} ms: requests are served one after another"
            )
        # "> 2x" alone would flag sub-millisecond noise (0.6 ms -> 2 ms); a stall a user can feel is also >= 25 ms
        if outside_p95 > 0 and during_p95 > 2 * outside_p95 and during_p95 - outside_p95 >= BYSTANDER_MIN_MS:
            reasons.append(
                f"bystander {bystander} p95 rose from {outside_p95:.0f} ms to {during_p95:.0f} ms during bursts (> 2×)"
            )
        out.append(
            Burst(
                endpoint=endpoint,
                k=kk,
                rounds=len(rs),
                solo_p50_ms=solo_p50,
                slowest_p50_ms=slowest_p50,
                slowest_max_ms=max(slowest, default=0.0),
                spread_p50_ms=median(spreads),
                spread_max_ms=max(spreads, default=0.0),
                send_skew_max_ms=max(skews, default=0.0),
                bystander=bystander,
                bystander_p95_during_ms=during_p95,
                bystander_p95_outside_ms=outside_p95,
                head_of_line=bool(reasons),
                reason="; ".join(reasons),
                profile=profile,
            )
        )
    return out


def build_endpoints(plan: Plan, recorder: Recorder, budgets: dict[str, float]) -> list[EndpointResult]:
    order = {e.name: i for i, e in enumerate(plan.endpoints)}
    keys = sorted(recorder.series, key=lambda k: (k[2], k[0], order.get(k[1], -1), k[1]))
    return [build_endpoint(plan, k, recorder.series[k], budgets, recorder.bucket_s) for k in keys]


def error_samples(recorder: Recorder, redact: Any) -> list[ErrorSample]:
    out = []
    for (_, name, _profile), s in recorder.series.items():
        for kind, n in s.error_kinds.items():
            out.append(ErrorSample(endpoint=name, kind=kind, count=n, example=redact(s.error_examples.get(kind, ""))))
    return sorted(out, key=lambda e: -e.count)


def write_json_atomic(path: Path, data: Any, indent: int | None = None) -> Path:
    """Write atomically: a reader never sees half a file, a crash never leaves one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=indent)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_result(result: RunResult, path: Path) -> Path:
    return write_json_atomic(path, result.to_dict(), indent=1)


def load_result(path: Path) -> RunResult:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"{path}: file not found; pass the results.json of a run") from exc
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: not a readable results JSON file ({exc})") from exc
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ReportError(f"{path}: schema_version: missing; this is not a rehearse results.json")
    if data["schema_version"] != SCHEMA_VERSION:
        raise ReportError(
            f"{path}: schema_version: {data['schema_version']} is not supported (this rehearse reads {SCHEMA_VERSION})"
        )
    try:
        return RunResult.from_dict(data)
    except (TypeError, KeyError) as exc:
        raise ReportError(f"{path}: malformed results ({exc})") from exc
