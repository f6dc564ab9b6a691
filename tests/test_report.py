"""Tests for ``reports/``: HTML / Markdown / JUnit rendering from saved RunResults, checked in real Chromium.

Fixtures come from ``tests/fixtures/make_results.py`` (real values recorded into real HdrHistograms).
Chromium tests skip with a reason when ``chromium`` is missing; set ``REPORT_SCREENSHOT_DIR`` to keep the
screenshots somewhere stable (their paths are printed; run with ``-s`` to see them).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.model import (
    EndpointResult,
    MobileFlow,
    MobileStep,
    RunResult,
    TimeBucket,
    Verdict,
)
from reports import analysis
from reports.render import render_all, render_html, render_junit, render_markdown
from reports.text import fmt_ratio, redact_mapping, scrub

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "results"
NAMES = ("small", "large", "empty")
SECTION_IDS = (
    "verdict",
    "slow-routes",
    "cold-starts",
    "bursts",
    "network",
    "mobile",
    "charts",
    "errors",
    "endpoints",
    "metadata",
)
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data: file:"


def load(name: str) -> RunResult:
    return RunResult.from_dict(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    out: dict[str, dict[str, Path]] = {}
    for name in NAMES:
        out[name] = render_all(load(name), tmp_path_factory.mktemp(name), assets_dir=FIXTURES)
    return out


def html_of(rendered: dict[str, dict[str, Path]], name: str) -> str:
    return rendered[name]["html"].read_text(encoding="utf-8")


def ep(
    profile: str, p95: float, *, budget: float = 300.0, floor: float | None = None, path: str = "/x"
) -> EndpointResult:
    return EndpointResult(
        name=f"GET {path}",
        method="GET",
        path=path,
        scenario="s",
        profile=profile,
        count=100,
        p50_ms=p95 / 2,
        p95_ms=p95,
        budget_ms=budget,
        floor_ms=floor,
    )


def bare(endpoints: list[EndpointResult], **kwargs: Any) -> RunResult:
    return RunResult(
        run_id="t",
        started_at="2025-01-01T00:00:00+00:00",
        finished_at="2025-01-01T00:01:00+00:00",
        target="http://127.0.0.1:1",
        plan_sha256="",
        verdict=Verdict(passed=True),
        endpoints=endpoints,
        **kwargs,
    )


# ---------------------------------------------------------------- fixtures are real


@pytest.mark.parametrize("name", ["small", "large"])
def test_fixture_histograms_are_real(name: str) -> None:
    result = load(name)
    for e in result.endpoints[:20]:
        hist = analysis.decode_hdr(e.hdr)
        assert hist is not None and hist.get_total_count() == e.count
        assert hist.get_value_at_percentile(95) / 1000 == pytest.approx(e.p95_ms, abs=1e-3)


def test_large_fixture_shape() -> None:
    result = load("large")
    assert len(result.endpoints) == 200
    assert len({(e.method, e.path, e.scenario) for e in result.endpoints}) == 50
    assert {e.profile for e in result.endpoints} == {"direct", "broadband", "4g", "3g"}


# ---------------------------------------------------------------- rendering basics


@pytest.mark.parametrize("name", NAMES)
def test_render_all_writes_three_files(rendered: dict[str, dict[str, Path]], name: str) -> None:
    paths = rendered[name]
    assert set(paths) == {"html", "markdown", "junit"}
    assert [p.name for p in (paths["html"], paths["markdown"], paths["junit"])] == [
        "report.html",
        "summary.md",
        "junit.xml",
    ]
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0
    leftovers = [p.name for p in paths["html"].parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize("name", ["small", "large"])
def test_sections_present(rendered: dict[str, dict[str, Path]], name: str) -> None:
    html = html_of(rendered, name)
    for section in SECTION_IDS:
        assert f'id="{section}"' in html
    assert "not measured in this run" not in html.lower()
    assert '<meta name="viewport"' in html
    assert "<svg" in html and 'id="endpoint-table"' in html


def test_empty_says_not_measured(rendered: dict[str, dict[str, Path]]) -> None:
    html = html_of(rendered, "empty")
    for section in SECTION_IDS:
        assert f'id="{section}"' in html
    lowered = html.lower()
    assert lowered.count("not measured in this run") >= 8
    for phrase in (
        "cold starts: not measured",
        "mobile critical path: not measured",
        "network profiles: not measured",
        "latency distributions: not measured",
    ):
        assert phrase in lowered
    assert "this run was interrupted" in lowered and "partial" in lowered
    assert "<svg" not in html


def test_verdict_banner_reasons_in_plain_words(rendered: dict[str, dict[str, Path]]) -> None:
    assert analysis.breach_sentence("GET /api/reports/revenue", "p95", 1240, 300, "broadband") == (
        "GET /api/reports/revenue: p95 1,240 ms is over its 300 ms budget (4.1\u00d7) on broadband"
    )
    html = html_of(rendered, "large")
    result = load("large")
    assert "NO-GO" in html and "Not ready for the demo" in html
    for reason in result.verdict.reasons:
        assert scrub(reason).replace("'", "&#39;") in html
    worst = max(result.verdict.breaches, key=lambda b: b.value_ms / b.budget_ms)
    assert (
        analysis.breach_sentence(worst.endpoint, worst.metric, worst.value_ms, worst.budget_ms, worst.profile) in html
    )


def test_go_verdict() -> None:
    result = load("small")
    result.verdict = Verdict(passed=True)
    html = render_html(result, assets_dir=FIXTURES)
    assert 'class="verdict go"' in html and "Ready for the demo" in html
    assert render_markdown(result).splitlines()[0] == "**Verdict: GO**"


def test_partial_run_is_said_plainly() -> None:
    result = load("small")
    result.status = "partial"
    html = render_html(result, assets_dir=FIXTURES)
    assert "This run was interrupted: the figures below are partial" in html
    assert "Partial run" in render_markdown(result)


# ---------------------------------------------------------------- analysis


def test_slow_routes_ranked_by_ratio() -> None:
    routes = analysis.summarize_routes(load("large"))
    ratios = [r.ratio for r in routes if r.ratio is not None]
    assert ratios == sorted(ratios, reverse=True)
    assert len(routes) == 50
    top = routes[0]
    assert top.ratio == max(analysis.ratio_of(e) or 0 for e in top.by_profile.values())


def test_server_time_hint() -> None:
    server = analysis.summarize_routes(
        bare([ep("direct", 900), ep("broadband", 950, floor=20), ep("3g", 1100, floor=160)])
    )[0]
    assert server.hint_kind == "server" and server.hint is not None
    assert server.hint.startswith("server time, not network")
    network = analysis.summarize_routes(
        bare([ep("direct", 120), ep("broadband", 150, floor=20), ep("3g", 340, floor=160)])
    )[0]
    assert network.hint_kind == "network"
    mixed = analysis.summarize_routes(bare([ep("direct", 250), ep("broadband", 320, floor=20)]))[0]
    assert mixed.hint is None
    unknown_floor = analysis.summarize_routes(bare([ep("direct", 900)]))[0]
    assert unknown_floor.hint is None  # over budget, but nothing known about the network
    html = render_html(bare([ep("direct", 900), ep("broadband", 950, floor=20)]))
    assert "server time, not network" in html
    small = analysis.summarize_routes(load("small"))
    assert small[0].label == "GET /api/reports/revenue" and small[0].hint_kind == "server"


def test_matrix_shows_each_profiles_own_budget_when_they_differ() -> None:
    same = render_html(bare([ep("direct", 200), ep("broadband", 250)]))
    differ = render_html(bare([ep("direct", 200), ep("slow-4g", 1200, budget=1500)]))
    assert "per profile" not in same and "cell-budget" not in same
    matrix = differ[differ.index('<table class="matrix">') :]
    assert "per profile" in matrix
    assert "· budget 300 ms</div>" in matrix and "· budget 1,500 ms</div>" in matrix  # each profile's own, once
    assert "cell-budget" not in matrix  # cells repeat a budget only when it differs from their profile's
    mixed = render_html(
        bare([ep("direct", 200), ep("slow-4g", 1200, budget=1500), ep("slow-4g", 90, budget=200, path="/y")])
    )
    matrix = mixed[mixed.index('<table class="matrix">') :]
    assert re.findall(r'cell-budget">budget ([^<]+)<', matrix) == ["1,500 ms"]  # only in the row that differs


def test_profile_matrix() -> None:
    result = load("large")
    matrix = analysis.profile_matrix(result)
    assert matrix.profiles == ["direct", "broadband", "4g", "3g"]
    assert len(matrix.rows) == 50 and all(len(cells) == 4 for _, cells in matrix.rows)
    assert matrix.floors == {"direct": None, "broadband": 18.0, "4g": 55.0, "3g": 160.0}
    route, cells = matrix.rows[0]
    for profile, cell in zip(matrix.profiles, cells, strict=True):
        assert cell is not None and cell.p95_ms == route.by_profile[profile].p95_ms


def test_percentile_values_match_hdrhistogram() -> None:
    pcts = [0, 1, 25, 50, 90, 95, 99, 99.9, 99.99, 100]
    for e in load("large").endpoints[::17]:
        hist = analysis.decode_hdr(e.hdr)
        assert hist is not None
        expected = [float(hist.get_value_at_percentile(p)) for p in pcts]
        assert analysis.percentile_values(hist, pcts) == expected


def test_percentile_distribution_series() -> None:
    e = load("small").endpoints[0]
    dist = analysis.percentile_distribution(e.hdr)
    assert dist is not None and dist.count == e.count
    xs = [p for p, _ in dist.points]
    ys = [v for _, v in dist.points]
    assert xs[0] == 0 and xs[-1] == pytest.approx(99.99)
    assert ys == sorted(ys) and ys[-1] <= dist.max_ms + 1e-9
    assert analysis.percentile_distribution("") is None
    assert analysis.percentile_distribution("not-a-histogram") is None


def test_errors_by_kind_falls_back_to_endpoint_counts() -> None:
    kinds = analysis.errors_by_kind(load("small"))
    assert [k.kind for k in kinds] == ["http_500", "timeout"]
    e = ep("direct", 100)
    e.error_kinds = {"timeout": 3, "http_502": 1}
    fallback = analysis.errors_by_kind(bare([e]))
    assert [(k.kind, k.count) for k in fallback] == [("timeout", 3), ("http_502", 1)]


def test_fmt_ratio_near_the_line() -> None:
    assert fmt_ratio(1.01) == "1.01\u00d7" and fmt_ratio(0.97) == "0.97\u00d7" and fmt_ratio(4.13) == "4.1\u00d7"


# ---------------------------------------------------------------- safety: secrets, escaping, no network


def test_secrets_are_scrubbed(rendered: dict[str, dict[str, Path]]) -> None:
    for path in rendered["small"].values():
        text = path.read_text(encoding="utf-8")
        assert "eyJhbGciOiJIUzI1NiJ9" not in text and "hunter2" not in text
    assert re.search(r"Bearer\s+(?!\[redacted\])\S", html_of(rendered, "small")) is None
    assert scrub('{"password": "two words"}') == '{"password": "[redacted]"}'
    assert scrub("Authorization: Bearer abc.def") == "Authorization: [redacted]"
    assert scrub("tokenizer failed; passwords differ") == "tokenizer failed; passwords differ"
    assert redact_mapping({"auth": {"api_key": "k-1", "user": "bob"}}) == {
        "auth": {"api_key": "[redacted]", "user": "bob"}
    }
    result = load("small")
    result.settings = {"auth": {"password": "pw-secret-123"}, "header": "Bearer abcdefgh12345"}
    result.notices = ["login with password=pw-secret-123"]
    html = render_html(result, assets_dir=FIXTURES)
    assert "pw-secret-123" not in html and "abcdefgh12345" not in html


def test_html_is_autoescaped() -> None:
    nasty = ep("direct", 100, path="/x/<script>alert(1)</script>")
    nasty.timeline = [TimeBucket(t_s=float(t), count=5, errors=0, p50_ms=50, p95_ms=90) for t in range(3)]
    result = bare([nasty], notices=["<img src=x onerror=alert(1)>"])
    html = render_html(result)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html
    assert 'aria-label="GET /x/&lt;script&gt;' in html  # escaped inside SVG attributes too


@pytest.mark.parametrize("name", NAMES)
def test_no_external_references(rendered: dict[str, dict[str, Path]], name: str) -> None:
    html = html_of(rendered, name)
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    refs = re.findall(r"""\b(?:src|href|xlink:href|action|poster|srcset)\s*=\s*["']([^"']*)["']""", html, re.I)
    refs += re.findall(r"url\(([^)]*)\)", html)
    refs += re.findall(r"@import\s+([^;]+)", html)
    for ref in refs:
        assert ref.startswith(("#", "data:")) or not re.match(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", ref, re.I), ref
    assert "<link" not in html.lower()
    assert re.search(r"<script[^>]+src", html, re.I) is None
    assert re.search(r"<(?:iframe|object|embed|base)\b", html, re.I) is None
    assert "xmlns=" not in html  # inline SVG in HTML needs no namespace URL


def test_screenshots_embedded_linked_or_missing(tmp_path: Path) -> None:
    html = render_html(load("small"), assets_dir=FIXTURES)
    assert html.count('src="data:image/png;base64,') == 3  # two steps + final screen
    assert "screenshot missing" in html
    big = tmp_path / "shots" / "big.png"
    big.parent.mkdir()
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(310 * 1024))
    small_png = tmp_path / "shots" / "tiny.png"
    small_png.write_bytes((FIXTURES / "screens" / "login.png").read_bytes())
    result = load("small")
    assert result.mobile is not None
    result.mobile[0].steps[0].screenshot = "shots/big.png"
    result.mobile[0].steps[1].screenshot = str(small_png)  # absolute path
    result.mobile[0].final_screenshot = "shots/nope.png"
    out = tmp_path / "out"
    paths = render_all(result, out, assets_dir=tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    assert 'href="../shots/big.png"' in page
    assert page.count('src="data:image/png;base64,') == 1
    assert page.count("screenshot missing") == 2
    assert paths["html"].stat().st_size < 300 * 1024


def test_embedded_screenshots_have_a_total_budget(tmp_path: Path) -> None:
    png = (FIXTURES / "screens" / "login.png").read_bytes()
    chunk = png + b"\0" * (250 * 1024)  # 250 KB each: under the per-image limit
    steps = []
    for i in range(8):
        (tmp_path / f"s{i}.png").write_bytes(chunk)
        steps.append(MobileStep(f"step {i}", 100, 200, True, screenshot=f"s{i}.png"))
    (tmp_path / "s0.xml").write_text("<hierarchy/>", encoding="utf-8")
    steps[0].page_source = "s0.xml"
    steps[1].page_source = "gone.xml"
    result = bare([], mobile=[MobileFlow("f", device="Pixel", passed=True, steps=steps)])
    paths = render_all(result, tmp_path / "out", assets_dir=tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    embedded = page.count('src="data:image/png;base64,')
    assert 1 <= embedded < 8 and page.count('href="../s') == 8 - embedded + 1
    assert 'href="../s0.xml">page source</a>' in page and "page source missing" in page
    assert paths["html"].stat().st_size < 2 * 1024 * 1024


def test_mobile_steps_side_by_side_per_phase_and_profile() -> None:
    def flow(phase: str, profile: str, dashboard_ms: float, passed: bool = True) -> MobileFlow:
        steps = [MobileStep("login", 400, 1500), MobileStep("dashboard", dashboard_ms, 3000, passed)]
        return MobileFlow("f", device="Pixel", passed=passed, phase=phase, profile=profile, steps=steps)

    result = bare(
        [],
        mobile=[
            flow("baseline", "direct", 900),
            flow("under_load", "direct", 1100),
            flow("under_load", "3g", 3400, False),
        ],
    )
    rows = analysis.mobile_step_rows(result)
    assert [r.name for r in rows] == ["login", "dashboard"]
    assert [c.duration_ms for c in rows[1].cells if c] == [900, 1100, 3400] and rows[1].budget_ms == 3000
    html = render_html(result)
    table = html[html.index('class="matrix mobile-steps"') :]
    table = table[: table.index("</table>")]
    assert re.findall(r'<span class="cell (pass|fail)">([^<]+)</span>', table)[-3:] == [
        ("pass", "900 ms"), ("pass", "1,100 ms"), ("fail", "3,400 ms"),
    ]  # fmt: skip
    assert ">3g</div>" in table
    single = render_html(bare([], mobile=[flow("baseline", "direct", 900)]))
    assert "mobile-steps" not in single  # one flow: its own card says it all


# ---------------------------------------------------------------- JUnit and Markdown


@pytest.mark.parametrize("name", NAMES)
def test_junit_structure(rendered: dict[str, dict[str, Path]], name: str) -> None:
    result = load(name)
    root = ET.parse(rendered[name]["junit"]).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == "rehearse"
    suite = suites[0]
    cases = suite.findall("testcase")
    steps = [(flow, step) for flow in result.mobile or [] for step in flow.steps]
    assert len(cases) == len(result.endpoints) + len(steps)
    failed_budget = [e for e in result.endpoints if e.count and e.p95_ms > e.budget_ms]
    failed_steps = [s for _, s in steps if not s.passed]
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == len(failed_budget) + len(failed_steps)
    for element in (suite, root):
        assert element.get("tests") == str(len(cases))
        assert element.get("failures") == str(len(failures))
    budget_cases = [c for c in cases if c.get("classname", "").startswith("budget.")]
    assert len(budget_cases) == len(result.endpoints)
    for e, case in zip(result.endpoints, budget_cases, strict=True):
        assert case.get("classname") == f"budget.{e.profile}"
        assert case.get("name") == f"{e.method} {e.path} [{e.scenario}]"
        assert float(case.get("time", "x")) == pytest.approx(e.p95_ms / 1000, abs=1e-3)
        failure = case.find("failure")
        assert (failure is not None) == (e.p95_ms > e.budget_ms)
        if failure is not None:
            assert "over its" in failure.get("message", "")
    for (flow, step), case in zip(steps, cases[len(result.endpoints) :], strict=True):
        assert case.get("classname") == f"mobile.{flow.device.replace('.', '_')}.{flow.phase}.{flow.profile}"
        assert float(case.get("time", "x")) == pytest.approx(step.duration_ms / 1000, abs=1e-3)
        assert (case.find("failure") is not None) == (not step.passed)
    float(suite.get("time", "x"))


def test_junit_skips_unmeasured_endpoints() -> None:
    empty_ep = ep("direct", 0)
    empty_ep.count = 0
    root = ET.fromstring(render_junit(bare([empty_ep, ep("direct", 500)])))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "1")


@pytest.mark.parametrize("name,verdict", [("small", "NO-GO"), ("large", "NO-GO"), ("empty", "NO-GO")])
def test_markdown_verdict_line(rendered: dict[str, dict[str, Path]], name: str, verdict: str) -> None:
    md = rendered[name]["markdown"].read_text(encoding="utf-8")
    assert md.splitlines()[0] == f"**Verdict: {verdict}**"
    if name == "empty":
        assert md.count("_Not measured in this run._") == 3
        return
    table = md.split("#### Worst routes (p95 ÷ budget)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(table) == 2 + min(5, len(analysis.summarize_routes(load(name))))
    assert "#### Cold starts" in md and "#### Mobile critical path" in md


def test_markdown_mobile_steps_and_escaping() -> None:
    result = bare(
        [ep("direct", 100, path="/a|b")],
        mobile=[MobileFlow("f", device="Pixel", passed=False, steps=[MobileStep("log in", 1600, 1500, False)])],
    )
    md = render_markdown(result)
    assert "/a\\|b" in md
    assert "| Pixel | baseline | direct | log in | 1,600 ms | 1,500 ms | ❌ |" in md


# ---------------------------------------------------------------- size, speed, imports


def test_large_report_under_2mb(rendered: dict[str, dict[str, Path]]) -> None:
    size = rendered["large"]["html"].stat().st_size
    assert size < 2 * 1024 * 1024, size


def test_many_routes_stay_bounded() -> None:
    result = load("large")
    extra = []
    for i in range(3):
        for e in result.endpoints:
            clone = copy.deepcopy(e)
            clone.path = f"{e.path}/v{i}"
            extra.append(clone)
    result.endpoints += extra  # 200 routes x 4 profiles
    html = render_html(result)
    assert len(html.encode()) < 4 * 1024 * 1024
    assert "more routes are not charted to keep this file small" in html


def test_timeline_without_hdr_still_charts() -> None:
    e = ep("direct", 100)
    e.timeline = [
        TimeBucket(t_s=float(t), count=10, errors=1 if t == 3 else 0, p50_ms=40, p95_ms=90 + t) for t in range(10)
    ]
    html = render_html(bare([e]))
    charts = html.split('id="charts"')[1].split("</section>")[0]
    assert "time into run (s)" in charts and charts.count("<svg") == 1  # no histogram: timeline only


def test_rendering_does_not_import_locust_or_gevent(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from harness.model import RunResult\n"
        "from reports.render import render_all\n"
        f"r = RunResult.from_dict(json.loads(Path({str(FIXTURES / 'large.json')!r}).read_text()))\n"
        f"render_all(r, Path({str(tmp_path)!r}))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# ---------------------------------------------------------------- real headless Chromium


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium not installed (apt-get install -y chromium chromium-driver); CI installs it",
)


def run_chromium(args: list[str], url: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = chromium_path()
    assert binary is not None
    cmd = [
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def page_console_lines(stderr: str, page: Path) -> list[str]:
    """Console messages the page itself produced (errors, CSP violations, uncaught exceptions)."""
    url = page.resolve().as_uri()
    return [
        line
        for line in stderr.splitlines()
        if (":CONSOLE" in line and url in line) or "Uncaught" in line or "Content Security Policy" in line
    ]


@needs_chromium
def test_chromium_console_check_is_not_vacuous(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        f'<!doctype html><meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<img src="https://example.invalid/x.png"><script>console.error("boom"); nope();</script>',
        encoding="utf-8",
    )
    proc = run_chromium(["--dump-dom"], bad.resolve().as_uri(), tmp_path / "profile")
    lines = page_console_lines(proc.stderr, bad)
    assert any("Uncaught" in line for line in lines), proc.stderr[-2000:]
    assert any("Content Security Policy" in line for line in lines)


@needs_chromium
@pytest.mark.parametrize("name", NAMES)
def test_chromium_dom_after_js(rendered: dict[str, dict[str, Path]], name: str, tmp_path: Path) -> None:
    page = rendered[name]["html"]
    proc = run_chromium(["--dump-dom"], page.resolve().as_uri(), tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'data-js="ready"' in dom  # the inline script ran under the CSP
    for section in SECTION_IDS:
        assert f'id="{section}"' in dom
    if name != "empty":
        assert 'tabindex="0"' in dom  # sortable headers were wired up
    assert page_console_lines(proc.stderr, page) == []


@needs_chromium
@pytest.mark.parametrize("name", ["small", "large"])
def test_chromium_screenshot(rendered: dict[str, dict[str, Path]], name: str, tmp_path: Path) -> None:
    out_dir = Path(os.environ.get("REPORT_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"report-{name}.png"
    png.unlink(missing_ok=True)
    page = rendered[name]["html"]
    proc = run_chromium(
        [f"--screenshot={png}", "--window-size=1280,2000"], page.resolve().as_uri(), tmp_path / "profile"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert page_console_lines(proc.stderr, page) == []
    print(f"\nscreenshot of {name} report: {png}")


@needs_chromium
def test_chromium_table_sorting(rendered: dict[str, dict[str, Path]], tmp_path: Path) -> None:
    """Click the p95 header twice (ascending, then descending) in a real browser and read the row order."""
    html = html_of(rendered, "large")
    click = (
        "<script>var th = document.querySelectorAll('#endpoint-table th')[6]; th.click();"
        "document.body.setAttribute('data-asc', Array.prototype.map.call("
        "document.querySelectorAll('#endpoint-table tbody tr'),"
        " function (r) { return r.cells[6].textContent; }).join('|')); th.click();</script></body>"
    )
    page = tmp_path / "sorted.html"
    page.write_text(html.replace("</body>", click), encoding="utf-8")
    proc = run_chromium(["--dump-dom"], page.resolve().as_uri(), tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    asc_attr = re.search(r'data-asc="([^"]*)"', proc.stdout)
    assert asc_attr is not None
    ascending = [float(v.replace(",", "")) for v in asc_attr.group(1).split("|")]
    assert ascending == sorted(ascending) and len(ascending) == 200
    table = proc.stdout.split('id="endpoint-table"', 1)[1]
    assert 'aria-sort="descending"' in table.split("</thead>", 1)[0]
    cells = re.findall(r"<tr>(?:\s*<td[^>]*>.*?</td>){6}\s*<td[^>]*>([0-9,.]+)</td>", table, re.S)
    descending = [float(v.replace(",", "")) for v in cells]
    assert descending == sorted(descending, reverse=True) and len(descending) == 200
