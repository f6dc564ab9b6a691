"""``summary.md``: a short Markdown summary for a pull-request comment. Verdict line first."""

from __future__ import annotations

from harness.model import RunResult
from reports.analysis import summarize_routes, verdict_lines
from reports.text import fmt_ms, fmt_pct, fmt_ratio, scrub

WORST_ROUTES = 5


def _cell(value: object) -> str:
    return scrub(str(value)).replace("|", "\\|").replace("\n", " ").strip() or " "


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(result: RunResult) -> str:
    """Verdict, reasons, worst routes, cold starts and mobile steps, in a few lines of Markdown."""
    verdict = "GO" if result.verdict.passed else "NO-GO"
    out = [f"**Verdict: {verdict}**", ""]
    if result.status == "partial":
        out += [
            "> **Partial run:** the run was interrupted; the figures below cover only what was measured.",
            "",
        ]
    reasons, more = verdict_lines(result, max_breaches=3)
    out += [f"- {_cell(line)}" for line in reasons]
    if more:
        out.append(f"- …and {more} more route{'s' if more != 1 else ''} over budget (see report.html)")
    if reasons or more:
        out.append("")

    routes = [r for r in summarize_routes(result) if r.ratio is not None][:WORST_ROUTES]
    out.append("#### Worst routes (p95 ÷ budget)")
    if routes:
        rows: list[list[object]] = []
        for r in routes:
            ep = r.worst
            mark = "❌" if r.status == "fail" else "✅"
            rows.append(
                [
                    f"{mark} `{r.label}`",
                    ep.profile,
                    fmt_ms(ep.p95_ms),
                    fmt_ms(ep.budget_ms),
                    fmt_ratio(r.ratio),
                    fmt_pct(ep.within_budget_share),
                    fmt_pct(r.error_rate),
                ]
            )
        out += _table(["Route", "Worst on", "p95", "Budget", "\u00d7 budget", "Within budget", "Errors"], rows)
        hints = [f"- `{r.label}`: {r.hint}" for r in routes if r.hint]
        if hints:
            out += ["", *hints]
    else:
        out.append("_Not measured in this run._")
    out.append("")

    out.append("#### Cold starts")
    if result.cold_starts:
        out += _table(
            ["Endpoint", "Kind", "First", "Warm p50", "Ratio", ""],
            [
                [
                    f"`{c.endpoint}`",
                    c.kind,
                    fmt_ms(c.first_ms),
                    fmt_ms(c.warm_p50_ms),
                    fmt_ratio(c.ratio),
                    "⚠️ flagged" if c.flagged else "",
                ]
                for c in result.cold_starts
            ],
        )
    else:
        out.append("_Not measured in this run._")
    out.append("")

    out.append("#### Mobile critical path")
    steps = [(flow, step) for flow in result.mobile or [] for step in flow.steps]
    if steps:
        out += _table(
            ["Device", "Phase", "Network", "Step", "Took", "Budget", ""],
            [
                [
                    flow.device,
                    flow.phase.replace("_", " "),
                    flow.profile,
                    step.name,
                    fmt_ms(step.duration_ms),
                    fmt_ms(step.budget_ms),
                    "✅" if step.passed else "❌",
                ]
                for flow, step in steps
            ],
        )
    else:
        out.append("_Not measured in this run._")
    out += [
        "",
        f"<sub>Run `{_cell(result.run_id)}` against {_cell(result.target)} · {result.started_at}</sub>",
        "",
    ]
    return "\n".join(out)
