"""``junit.xml``: one test case per endpoint budget check and per mobile step, for CI dashboards."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.model import RunResult
from reports.analysis import overview, summarize_routes
from reports.text import fmt_ms, fmt_pct, scrub


def _seconds(ms: float) -> str:
    return f"{max(ms, 0.0) / 1000.0:.3f}"


def render_junit(result: RunResult) -> str:
    """A ``<testsuites>`` document holding one ``<testsuite name="rehearse">``.

    Budget checks: ``classname="budget.<profile>"``, ``name="<METHOD path> [scenario]"``, failing when
    p95 > budget, skipped when nothing was measured. Mobile steps: ``classname="mobile.<device>.<phase>.<profile>"``.
    Times are in seconds (a budget check's time is its p95).
    """
    suite = ET.Element("testsuite", name="rehearse", timestamp=result.started_at)
    if host := result.machine.get("hostname"):
        suite.set("hostname", str(host))
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("run_id", result.run_id),
        ("target", result.target),
        ("status", result.status),
        ("verdict", "GO" if result.verdict.passed else "NO-GO"),
        ("plan_path", result.plan_path),
        ("plan_sha256", result.plan_sha256),
        ("harness_version", result.harness_version),
    ):
        ET.SubElement(props, "property", name=key, value=scrub(str(value)))
    tests = failures = skipped = 0
    total_time = 0.0
    for ep in result.endpoints:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"budget.{ep.profile}",
            name=scrub(f"{ep.method} {ep.path} [{ep.scenario}]"),
            time=_seconds(ep.p95_ms if ep.count else 0.0),
        )
        tests += 1
        total_time += ep.p95_ms / 1000.0 if ep.count else 0.0
        details = (
            f"count={ep.count} errors={ep.errors} p50={fmt_ms(ep.p50_ms)} p95={fmt_ms(ep.p95_ms)} "
            f"p99={fmt_ms(ep.p99_ms)} max={fmt_ms(ep.max_ms)} budget={fmt_ms(ep.budget_ms)} "
            f"within_budget={fmt_pct(ep.within_budget_share)}"
        )
        if ep.count <= 0:
            skipped += 1
            ET.SubElement(case, "skipped", message="no requests measured")
        elif ep.p95_ms > ep.budget_ms:
            failures += 1
            ratio = f" ({ep.p95_ms / ep.budget_ms:.1f}\u00d7)" if ep.budget_ms > 0 else ""
            budget = fmt_ms(ep.budget_ms)
            failure = ET.SubElement(
                case,
                "failure",
                type="BudgetExceeded",
                message=f"p95 {fmt_ms(ep.p95_ms)} is over its {budget} budget{ratio} on {ep.profile}",
            )
            failure.text = details
        else:
            ET.SubElement(case, "system-out").text = details
    for flow in result.mobile or []:
        classname = f"mobile.{flow.device.replace('.', '_')}.{flow.phase}.{flow.profile.replace('.', '_')}"
        for step in flow.steps:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=scrub(classname),
                name=scrub(f"{flow.name}: {step.name} [{flow.profile}]"),
                time=_seconds(step.duration_ms),
            )
            tests += 1
            total_time += step.duration_ms / 1000.0
            if not step.passed:
                failures += 1
                if step.error:
                    message = step.error
                elif step.budget_ms is not None:
                    message = f"took {fmt_ms(step.duration_ms)}, over its {fmt_ms(step.budget_ms)} budget"
                else:
                    message = "step failed"
                ET.SubElement(case, "failure", type="MobileStepFailed", message=scrub(message))
    duration = overview(result, summarize_routes(result)).duration_s
    for element in (suite,):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("skipped", str(skipped))
        element.set("time", f"{duration if duration is not None else total_time:.3f}")
    root = ET.Element(
        "testsuites",
        name="rehearse",
        tests=str(tests),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=suite.get("time", "0"),
    )
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
