"""Nightly regression: did any endpoint get slower than its baseline? Reads two saved ``RunResult``s only."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.model import EndpointResult, RunResult

Key = tuple[str, str, str]  # (scenario, endpoint, profile)


@dataclass
class Change:
    scenario: str
    endpoint: str
    profile: str
    base_p95_ms: float
    p95_ms: float
    change_pct: float
    regressed: bool
    improved: bool


@dataclass
class Comparison:
    baseline_run: str
    current_run: str
    threshold_pct: float
    min_ms: float
    changes: list[Change] = field(default_factory=list)
    new: list[Key] = field(default_factory=list)
    missing: list[Key] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return any(c.regressed for c in self.changes)


def _rows(result: RunResult) -> dict[Key, EndpointResult]:
    return {(e.scenario, e.name, e.profile): e for e in result.endpoints if e.count > 0}


def compare(baseline: RunResult, current: RunResult, threshold_pct: float = 10.0, min_ms: float = 5.0) -> Comparison:
    """A p95 counts as a regression when it grew by more than threshold_pct and by at least min_ms.

    The absolute floor keeps sub-millisecond jitter on fast routes from failing a nightly run.
    """
    out = Comparison(baseline.run_id, current.run_id, threshold_pct, min_ms)
    if baseline.plan_sha256 != current.plan_sha256:
        out.notices.append("the plans differ (sha256); figures may not be comparable")
    if baseline.target != current.target:
        out.notices.append(f"targets differ: {baseline.target} vs {current.target}")
    base, cur = _rows(baseline), _rows(current)
    for key in sorted(base.keys() & cur.keys()):
        b, c = base[key], cur[key]
        pct = (c.p95_ms - b.p95_ms) / b.p95_ms * 100.0 if b.p95_ms > 0 else 0.0
        delta = c.p95_ms - b.p95_ms
        out.changes.append(
            Change(
                scenario=key[0],
                endpoint=key[1],
                profile=key[2],
                base_p95_ms=b.p95_ms,
                p95_ms=c.p95_ms,
                change_pct=pct,
                regressed=pct > threshold_pct and delta >= min_ms,
                improved=pct < -threshold_pct and -delta >= min_ms,
            )
        )
    out.new = sorted(cur.keys() - base.keys())
    out.missing = sorted(base.keys() - cur.keys())
    out.changes.sort(key=lambda c: -c.change_pct)
    return out


def to_markdown(comparison: Comparison) -> str:
    verdict = "REGRESSED" if comparison.regressed else "NO REGRESSION"
    lines = [
        f"**Nightly comparison: {verdict}** (p95 growth > {comparison.threshold_pct:g} % and ≥ "
        f"{comparison.min_ms:g} ms; baseline {comparison.baseline_run}, current {comparison.current_run})",
        "",
    ]
    lines += [f"> {n}" for n in comparison.notices]
    lines += [
        "| endpoint | scenario | profile | baseline p95 | p95 | change | |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for c in comparison.changes:
        mark = "regressed" if c.regressed else ("improved" if c.improved else "")
        lines.append(
            f"| {c.endpoint} | {c.scenario} | {c.profile} | {c.base_p95_ms:,.1f} ms | {c.p95_ms:,.1f} ms "
            f"| {c.change_pct:+.1f} % | {mark} |"
        )
    if comparison.new:
        lines.append("")
        lines.append("New: " + ", ".join("/".join(k) for k in comparison.new))
    if comparison.missing:
        lines.append("")
        lines.append("Not measured this time: " + ", ".join("/".join(k) for k in comparison.missing))
    return "\n".join(lines)
