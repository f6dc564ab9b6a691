"""Render a saved ``RunResult`` into ``report.html``, ``summary.md`` and ``junit.xml``.

Reads only the ``RunResult`` (never live runner state) and imports neither Locust nor gevent, so it runs in
any process. The HTML is one self-contained file: inline CSS, inline SVG, a few lines of inline JS, and a
Content-Security-Policy that stops the browser from fetching anything.
"""

from __future__ import annotations

import base64
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from markupsafe import Markup

from harness.errors import ReportError
from harness.model import EndpointResult, RunResult
from reports import analysis
from reports.charts import Bars, Curve, colour, percentile_chart, timeline_chart
from reports.junit import render_junit
from reports.markdown import render_markdown
from reports.text import fmt_bytes, fmt_ms, fmt_num, fmt_pct, fmt_ratio, fmt_seconds, redact_mapping, scrub

__all__ = ["render_all", "render_html", "render_junit", "render_markdown"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Screenshots up to this size are embedded as data: URIs; bigger ones are linked next to the report.
EMBED_LIMIT_BYTES = 300 * 1024
# ...as long as all embedded images together stay under this, so a long mobile run keeps the report small.
EMBED_TOTAL_BYTES = 1200 * 1024
# Routes charted openly (worst first); the next ones go in a collapsed <details>; the rest only in tables.
CHARTS_OPEN = 20
CHARTS_MAX = 60
SLOW_ROUTES_SHOWN = 25
OUTPUT_NAMES = {"html": "report.html", "markdown": "summary.md", "junit": "junit.xml"}
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


def _finalize(value: Any) -> Any:
    """Every value printed by the template passes here: scrub secrets from plain text, leave markup alone."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return scrub(value)
    return value


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ms=fmt_ms,
        num=fmt_num,
        ratio=fmt_ratio,
        pct=fmt_pct,
        size=fmt_bytes,
        seconds=fmt_seconds,
        scrub=scrub,
        status=analysis.status_of,
    )
    return env


_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


@dataclass
class Screenshot:
    """How a screenshot appears in the report: embedded, linked, or reported missing."""

    kind: str  # "data" | "link" | "missing" | "none"
    src: str
    name: str


def _evidence(raw: str, bases: list[Path], out_dir: Path | None, budget: list[int] | None) -> Screenshot:
    """Find a screenshot (or page source) file; embed small images while ``budget`` bytes remain."""
    if not raw:
        return Screenshot("none", "", "")
    given = Path(raw)
    candidates = [given] if given.is_absolute() else [base / given for base in bases]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        return Screenshot("missing", "", given.name)
    mime = _IMAGE_TYPES.get(found.suffix.lower())
    try:
        size = found.stat().st_size
        if budget is not None and mime and size < EMBED_LIMIT_BYTES and size <= budget[0]:
            data = base64.b64encode(found.read_bytes()).decode("ascii")
            budget[0] -= size
            return Screenshot("data", f"data:{mime};base64,{data}", found.name)
    except OSError:
        return Screenshot("missing", "", given.name)
    try:
        href = os.path.relpath(found.resolve(), out_dir.resolve()) if out_dir else raw
    except ValueError:  # another drive on Windows: no relative path exists
        href = found.resolve().as_uri()
    return Screenshot("link", Path(href).as_posix(), found.name)


def _mobile_evidence(result: RunResult, bases: list[Path], out_dir: Path | None) -> dict[str, Screenshot]:
    evidence: dict[str, Screenshot] = {}
    budget = [EMBED_TOTAL_BYTES]
    for flow in result.mobile or []:
        for raw in [*(s.screenshot for s in flow.steps), flow.final_screenshot]:
            if raw and raw not in evidence:
                evidence[raw] = _evidence(raw, bases, out_dir, budget)
        for step in flow.steps:
            if step.page_source and step.page_source not in evidence:
                evidence[step.page_source] = _evidence(step.page_source, bases, out_dir, None)
    return evidence


@dataclass
class RouteCharts:
    route: analysis.RouteSummary
    distribution: Markup
    timeline: Markup


def _bucket_width(endpoints: list[EndpointResult]) -> float:
    gaps = [
        b.t_s - a.t_s for ep in endpoints for a, b in zip(ep.timeline, ep.timeline[1:], strict=False) if b.t_s > a.t_s
    ]
    return statistics.median(gaps) if gaps else 1.0


def _route_charts(route: analysis.RouteSummary, profiles: list[str]) -> RouteCharts:
    eps = [(i, route.by_profile[p]) for i, p in enumerate(profiles) if p in route.by_profile]
    x_end = 1e5 if any(ep.count >= 100_000 for _, ep in eps) else analysis.DEFAULT_X_END
    curves: list[Curve] = []
    for i, ep in eps:
        dist = analysis.percentile_distribution(ep.hdr, x_end=x_end)
        if dist is not None:
            note = f"max {fmt_ms(dist.max_ms)}"
            curves.append(Curve(ep.profile, dist.points, colour(i), note=note))
        if ep.service is not None:
            sdist = analysis.percentile_distribution(ep.service.hdr, x_end=x_end)
            if sdist is not None:
                curves.append(Curve(f"{ep.profile} service time", sdist.points, colour(i), dashed=True))
    budget = min((ep.budget_ms for _, ep in eps), default=0.0) or None
    distribution = (
        percentile_chart(curves, budget_ms=budget, x_end=x_end, label=f"{route.label} latency by percentile")
        if curves
        else Markup("")
    )
    timed = [ep for _, ep in eps if ep.timeline]
    timeline = Markup("")
    if timed:
        width = _bucket_width(timed)
        lines = [
            Curve(ep.profile, [(b.t_s, b.p95_ms) for b in ep.timeline if b.count], colour(i))
            for i, ep in eps
            if ep.timeline
        ]
        totals: dict[float, list[int]] = {}
        for ep in timed:
            for b in ep.timeline:
                entry = totals.setdefault(round(b.t_s, 3), [0, 0])
                entry[0] += b.count
                entry[1] += b.errors
        points = [(t, c / width, (e / c if c else 0.0)) for t, (c, e) in sorted(totals.items())]
        timeline = timeline_chart(
            lines,
            Bars("requests/s (all profiles)", points, width),
            budget_ms=budget,
            label=f"{route.label} p95 and request rate over time",
        )
    return RouteCharts(route, distribution, timeline)


def _context(result: RunResult, bases: list[Path], out_dir: Path | None) -> dict[str, Any]:
    routes = analysis.summarize_routes(result)
    matrix = analysis.profile_matrix(result, routes)
    reasons, more_breaches = analysis.verdict_lines(result)
    charted = [r for r in routes if any(ep.hdr or ep.timeline for ep in r.by_profile.values())]
    charts = [_route_charts(r, matrix.profiles) for r in charted[:CHARTS_MAX]]
    shots = _mobile_evidence(result, bases, out_dir)
    endpoints = sorted(result.endpoints, key=lambda ep: (-(analysis.ratio_of(ep) or -1.0), ep.path, ep.profile))
    network_measured = (
        bool(result.network) or len(matrix.profiles) > 1 or any(ep.floor_ms is not None for ep in result.endpoints)
    )
    return {
        "r": result,
        "reasons": reasons,
        "more_breaches": more_breaches,
        "routes": routes,
        "slow_routes": routes[:SLOW_ROUTES_SHOWN],
        "matrix": matrix,
        "mobile_rows": analysis.mobile_step_rows(result),
        "network_measured": network_measured,
        "charts_open": charts[:CHARTS_OPEN],
        "charts_more": charts[CHARTS_OPEN:],
        "charts_skipped": max(len(charted) - CHARTS_MAX, 0),
        "endpoints": endpoints,
        "errors": analysis.errors_by_kind(result),
        "overview": analysis.overview(result, routes),
        "shots": shots,
        "ratio_of": analysis.ratio_of,
        "error_rate": analysis.error_rate,
        # secrets never reach the page, even if a plan leaked one into settings or machine info
        "settings": redact_mapping(result.settings),
        "machine": redact_mapping(result.machine),
        "network": redact_mapping(result.network),
    }


def _bases(assets_dir: Path | None, out_dir: Path | None) -> list[Path]:
    bases = [p for p in (assets_dir, out_dir) if p is not None]
    bases.append(Path.cwd())
    return bases


def render_html(result: RunResult, *, assets_dir: Path | None = None, out_dir: Path | None = None) -> str:
    """The self-contained HTML report. Relative screenshot paths resolve against ``assets_dir``, then cwd."""
    template = _env().get_template("report.html.j2")
    return template.render(**_context(result, _bases(assets_dir, out_dir), out_dir))


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_all(result: RunResult, out_dir: Path, *, assets_dir: Path | None = None) -> dict[str, Path]:
    """Write ``report.html``, ``summary.md`` and ``junit.xml`` into ``out_dir`` atomically.

    Returns ``{"html": …, "markdown": …, "junit": …}``. Relative screenshot paths resolve against
    ``assets_dir`` (usually the directory holding results.json), then ``out_dir``, then the cwd.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        texts = {
            "html": render_html(result, assets_dir=assets_dir, out_dir=out_dir),
            "markdown": render_markdown(result),
            "junit": render_junit(result),
        }
        written: dict[str, Path] = {}
        for key, text in texts.items():
            path = out_dir / OUTPUT_NAMES[key]
            _write_atomic(path, text)
            written[key] = path
    except OSError as exc:
        raise ReportError(f"{out_dir}: cannot write the report: {exc}") from exc
    except TemplateError as exc:  # a template bug or a RunResult missing a field the report needs
        raise ReportError(f"report template failed for run {result.run_id}: {exc}") from exc
    return written
