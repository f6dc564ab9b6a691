"""Budgets → verdict: per endpoint and profile, does p95 stay under its budget, and if not, why."""

from __future__ import annotations

from harness.model import Breach, EndpointResult, MobileFlow, Verdict


def _fmt(ms: float) -> str:
    return f"{ms:,.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def judge(
    endpoints: list[EndpointResult],
    mobile: list[MobileFlow] | None = None,
    max_error_rate: float = 0.01,
) -> Verdict:
    """p95 over budget, or more than 1 % errors, breaches; so does a failed mobile step."""
    breaches: list[Breach] = []
    reasons: list[str] = []
    for e in endpoints:
        label = f"{e.method} {e.path}"
        where = f" ({e.scenario}, {e.profile})"
        total = e.requests or e.count
        if total == 0:
            continue
        if e.p95_ms > e.budget_ms:
            breaches.append(
                Breach(
                    endpoint=e.name,
                    metric="p95",
                    value_ms=e.p95_ms,
                    budget_ms=e.budget_ms,
                    profile=e.profile,
                    scenario=e.scenario,
                    reason=f"{label}: p95 {_fmt(e.p95_ms)} is over its {_fmt(e.budget_ms)} budget "
                    f"({e.p95_ms / e.budget_ms:.1f}×){where}",
                )
            )
        rate = e.errors / total if total else 0.0
        if rate > max_error_rate:
            breaches.append(
                Breach(
                    endpoint=e.name,
                    metric="error_rate",
                    value_ms=0.0,
                    budget_ms=e.budget_ms,
                    profile=e.profile,
                    scenario=e.scenario,
                    reason=f"{label}: {rate:.1%} of {total} requests failed{where}",
                )
            )
    for flow in mobile or []:
        for step in flow.steps:
            if not step.passed:
                budget = step.budget_ms or 0.0
                breaches.append(
                    Breach(
                        endpoint=f"mobile:{flow.device}:{step.name}",
                        metric="mobile_step",
                        value_ms=step.duration_ms,
                        budget_ms=budget,
                        profile=flow.profile,
                        scenario=flow.phase,
                        reason=f"mobile {flow.device} ({flow.phase}): step '{step.name}' failed"
                        + (f": {step.error}" if step.error else f" ({_fmt(step.duration_ms)})"),
                    )
                )
    # breaches carry their own sentences; reasons hold what is true of the run as a whole
    if not breaches:
        reasons = ["every endpoint's p95 is within its budget and error rates are under 1 %"]
    return Verdict(passed=not breaches, breaches=breaches, reasons=reasons)
