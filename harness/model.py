"""The one data model: a run's results, as saved to ``results.json`` and read by everything downstream.

``RunResult`` flows config → plan → run → results → report / verdict / compare. Nothing downstream reads
live runner state. This module imports nothing of ours and nothing heavy (no Locust, no gevent, no numpy),
so a report can be rendered in a process that never saw the load generator.

JSON field names are a public contract (the nightly comparison and external checks rely on them):
add fields, never rename them without bumping ``SCHEMA_VERSION``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

SCHEMA_VERSION = 1

JSONDict = dict[str, Any]


@dataclass
class ServiceTime:
    """Latency from the actual send (what naive tools report), beside the corrected figure."""

    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    hdr: str = ""


@dataclass
class TimeBucket:
    """One slice of the run for one endpoint: how many requests and how slow."""

    t_s: float
    count: int
    errors: int
    p50_ms: float
    p95_ms: float


@dataclass
class EndpointResult:
    """Figures for one (scenario, endpoint, profile). Percentiles exclude warm-up and first requests."""

    name: str
    method: str
    path: str
    scenario: str
    profile: str = "direct"
    count: int = 0  # steady-state samples behind the percentiles (failed ones included)
    errors: int = 0  # failed requests among all ``requests``
    requests: int = 0  # every request sent: steady state, warm-up and the first one
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    budget_ms: float = 300.0
    within_budget_share: float = 0.0
    hdr: str = ""
    error_kinds: dict[str, int] = field(default_factory=dict)
    bytes_mean: float = 0.0
    # open model (steady): ``p*_ms`` above are corrected (from intended start); this is from actual send
    service: ServiceTime | None = None
    late: int = 0
    dropped: int = 0
    first_request_ms: float | None = None
    warmup_count: int = 0
    warmup_hdr: str = ""
    floor_ms: float | None = None
    timeline: list[TimeBucket] = field(default_factory=list)


@dataclass
class Breach:
    """One budget check that failed, in words a founder can read."""

    endpoint: str
    metric: str
    value_ms: float
    budget_ms: float
    profile: str = "direct"
    scenario: str = ""
    reason: str = ""


@dataclass
class Verdict:
    passed: bool
    breaches: list[Breach] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass
class ColdStart:
    """First request to an endpoint (after deploy, or after idle) against its warm median."""

    endpoint: str
    first_ms: float
    warm_p50_ms: float
    ratio: float
    kind: str = "deploy"
    flagged: bool = False
    profile: str = "direct"


@dataclass
class Burst:
    """k simultaneous users on one endpoint, round after round (the three-prospects scenario)."""

    endpoint: str
    k: int
    rounds: int
    solo_p50_ms: float
    slowest_p50_ms: float
    slowest_max_ms: float
    spread_p50_ms: float
    spread_max_ms: float
    send_skew_max_ms: float
    bystander: str = ""
    bystander_p95_during_ms: float = 0.0
    bystander_p95_outside_ms: float = 0.0
    head_of_line: bool = False
    reason: str = ""
    profile: str = "direct"


@dataclass
class MobileStep:
    name: str
    duration_ms: float
    budget_ms: float | None = None
    passed: bool = True
    error: str = ""
    screenshot: str = ""
    page_source: str = ""


@dataclass
class MobileFlow:
    name: str
    device: str
    passed: bool
    phase: str = "baseline"  # "baseline" (before load) or "under_load"
    profile: str = "direct"
    network_applied: bool = True
    notice: str = ""
    steps: list[MobileStep] = field(default_factory=list)
    final_screenshot: str = ""


@dataclass
class ErrorSample:
    endpoint: str
    kind: str
    count: int
    example: str = ""


@dataclass
class RunResult:
    """Everything a run measured. Saved as JSON; every report and comparison reads only this."""

    run_id: str
    started_at: str
    finished_at: str
    target: str
    plan_sha256: str
    verdict: Verdict
    endpoints: list[EndpointResult] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    status: str = "complete"  # "complete" | "partial" (interrupted or failed mid-run)
    harness_version: str = ""
    plan_path: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    cold_starts: list[ColdStart] = field(default_factory=list)
    bursts: list[Burst] = field(default_factory=list)
    network: dict[str, Any] = field(default_factory=dict)
    mobile: list[MobileFlow] | None = None
    errors: list[ErrorSample] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> JSONDict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: JSONDict) -> RunResult:
        return _build(cls, data)


_T = TypeVar("_T")

_NESTED: dict[tuple[str, str], type] = {
    ("EndpointResult", "service"): ServiceTime,
    ("EndpointResult", "timeline"): TimeBucket,
    ("Verdict", "breaches"): Breach,
    ("RunResult", "verdict"): Verdict,
    ("RunResult", "endpoints"): EndpointResult,
    ("RunResult", "cold_starts"): ColdStart,
    ("RunResult", "bursts"): Burst,
    ("RunResult", "mobile"): MobileFlow,
    ("RunResult", "errors"): ErrorSample,
    ("MobileFlow", "steps"): MobileStep,
}


def _build(cls: type[_T], data: JSONDict) -> _T:
    """Rebuild a dataclass tree from JSON, ignoring unknown keys (newer minor writers add fields)."""
    kwargs: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        nested = _NESTED.get((cls.__name__, f.name))
        if nested is not None and value is not None:
            value = [_build(nested, item) for item in value] if isinstance(value, list) else _build(nested, value)
        kwargs[f.name] = value
    return cls(**kwargs)


def mobile_flows_from_json(items: list[JSONDict]) -> list[MobileFlow]:
    """Mobile flows saved apart from a run (a side job's output) back into the model."""
    return [_build(MobileFlow, item) for item in items]
