"""The command line: the one place where exceptions become messages and exit codes.

0 pass · 1 budget breached · 2 bad input · 3 run or infrastructure error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from harness.errors import HarnessError, PlanError
from harness.model import RunResult
from harness.plan import LoadedPlan

EXIT_PASS, EXIT_BREACH, EXIT_INPUT, EXIT_INFRA = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rehearse", description="Will the backend survive the live demo?")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="rehearse a plan against its target")
    run.add_argument("plan")
    run.add_argument("--base-url", help="override target.base_url")
    run.add_argument("--duration", type=float, help="seconds per network profile (overrides run.duration_s)")
    run.add_argument("--max-requests", type=int, help="request cap (overrides run.max_requests)")
    run.add_argument("--workers", type=int, default=0, help="N local Locust worker processes under a master")
    run.add_argument("--out", default="reports/out", help="where run folders go (default reports/out)")
    run.add_argument("--run-id", help="name of the run folder (default: timestamp)")
    run.add_argument("--no-mobile", action="store_true", help="skip the plan's mobile flows")
    run.add_argument("--baseline", help="results.json of a known-good run: compare and fail on a p95 regression")
    run.add_argument("--threshold-pct", type=float, default=10.0, help="with --baseline: p95 growth that counts")
    run.add_argument(
        "--fresh-target",
        action="store_true",
        help="restart the target first with the plan's target.restart command (its first requests are cold starts)",
    )
    run.add_argument("--master", action="store_true", help="be a master for workers on other machines")
    run.add_argument("--expect-workers", type=int, default=1, help="with --master: workers to wait for")
    run.add_argument("--master-bind", default="0.0.0.0:5557", help="with --master: HOST:PORT to listen on")
    run.add_argument("--worker", action="store_true", help="be a worker of a master")
    run.add_argument("--master-host", default="127.0.0.1")
    run.add_argument("--master-port", type=int, default=5557)
    run.add_argument("--profile-name", default=None, help=argparse.SUPPRESS)  # set by --workers N for its workers
    run.add_argument("--proxy", default=None, help=argparse.SUPPRESS)
    run.add_argument(
        "--worker-share",
        type=int,
        default=1,
        help="with --worker: how many workers serve the master (each sends 1/N of the steady rates)",
    )

    val = sub.add_parser("validate", help="check a plan file and its environment variables")
    val.add_argument("plan")

    rep = sub.add_parser("report", help="re-render report.html, summary.md and junit.xml from results.json")
    rep.add_argument("results")
    rep.add_argument("--out", help="folder for the reports (default: beside results.json)")

    demo = sub.add_parser("demo", help="start the bundled demo backend and rehearse it")
    demo.add_argument("--duration", type=float, default=None)
    demo.add_argument("--plan", default=None, help="plan to use (default scenarios/plans/demo.yaml)")
    demo.add_argument("--out", default="reports/out")

    serve = sub.add_parser("serve-demo", help="serve the bundled demo backend")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--lazy-init-ms", type=int, default=None)
    serve.add_argument("--serialize-route", default=None)
    serve.add_argument("--slow-dashboard-ms", type=int, default=None)

    cmp_ = sub.add_parser("compare", help="nightly regression check: compare results.json with a baseline")
    cmp_.add_argument("baseline")
    cmp_.add_argument("current")
    cmp_.add_argument("--threshold-pct", type=float, default=10.0, help="p95 growth that counts (default 10)")
    cmp_.add_argument("--min-ms", type=float, default=5.0, help="and at least this many ms (default 5)")
    cmp_.add_argument("--markdown", help="also write the comparison as Markdown to this file")

    prof = sub.add_parser("profiles", help="list the network presets, and which shaping backend works here")
    prof.add_argument("--json", action="store_true", help="print them as JSON")

    mob = sub.add_parser("mobile", help="run the plan's mobile smoke flows alone")
    mob.add_argument("plan")
    mob.add_argument("--base-url")
    mob.add_argument("--out", default="reports/out")
    return p


def _print_outcome(result: RunResult, path: Path) -> None:
    verdict = "GO" if result.verdict.passed else "NO-GO"
    if result.status != "complete":
        verdict += " (partial run)"
    for notice in result.notices:
        print(f"Notice: {notice}")
    print(f"Verdict: {verdict}")
    lines = result.verdict.reasons + [b.reason for b in result.verdict.breaches]
    for reason in lines[:8]:
        print(f"  - {reason}")
    if len(lines) > 8:
        print(f"  - … and {len(lines) - 8} more in the report")
    print(f"Results: {path}")
    print(f"Report:  {path.parent / 'report.html'}")


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.plan import load_plan

    lp = load_plan(args.plan, base_url=args.base_url)
    if args.worker:
        duration = args.duration or lp.plan.run.duration_s
        cap = args.max_requests or lp.plan.run.max_requests
        if args.profile_name is None:  # on its own machine: every phase of the plan, shaped here
            from harness.workers import serve_master

            serve_master(lp, args.master_host, args.master_port, args.worker_share, duration, cap)
            return EXIT_PASS
        from harness.loadrun import run_worker  # one phase for a local master (--workers N)
        from harness.phase import Phase, Proxy

        proxy = None
        if args.proxy:
            host, port = args.proxy.rsplit(":", 1)
            proxy = Proxy(host, int(port))
        run_worker(
            lp, Phase(args.profile_name, proxy, duration, cap), args.master_host, args.master_port, args.worker_share
        )
        return EXIT_PASS
    return _run_loaded(args, lp)


def _run_loaded(args: argparse.Namespace, lp: LoadedPlan) -> int:
    from harness.rehearsal import RunOptions, run_plan

    opts = RunOptions(
        out_root=Path(args.out),
        run_id=args.run_id,
        duration_s=args.duration,
        max_requests=args.max_requests,
        workers=args.workers,
        mobile=not args.no_mobile,
        fresh_target=args.fresh_target,
    )
    if args.master:
        host, port = args.master_bind.rsplit(":", 1)
        opts.master_bind = (host, int(port))
        opts.expect_workers = args.expect_workers
    from harness.history import append_history

    result, path = run_plan(lp, opts)
    append_history(Path(args.out), result)
    _print_outcome(result, path)
    regressed = False
    if args.baseline:
        regressed = _compare(Path(args.baseline), result, args.threshold_pct, 5.0, path.parent / "compare.md")
    if result.status != "complete":
        return EXIT_INFRA  # interrupted or failed mid-run; results.json and the report are still written
    return EXIT_PASS if result.verdict.passed and not regressed else EXIT_BREACH


def _cmd_validate(args: argparse.Namespace) -> int:
    from harness.network_setup import resolve_profiles
    from harness.plan import load_plan

    lp = load_plan(args.plan)
    resolve_profiles(lp.plan, lp.path)
    if lp.plan.mobile is not None:
        from harness.mobile_phase import parse_mobile

        parse_mobile(lp)
    print(f"{lp.path}: OK ({len(lp.plan.endpoints)} endpoints, sha256 {lp.sha256[:12]})")
    if lp.plan.run.network_backend != "proxy":
        from harness.network.netem import choose_backend

        backend, notice = choose_backend(lp.plan.run.network_backend)
        print(f"Notice: {notice}" if notice else f"network shaping: {backend} works here")
    return EXIT_PASS


def _cmd_report(args: argparse.Namespace) -> int:
    from harness.results import load_result
    from reports.render import render_all

    src = Path(args.results)
    result = load_result(src)
    out = Path(args.out) if args.out else src.parent
    paths = render_all(result, out, assets_dir=src.parent)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return EXIT_PASS if result.verdict.passed else EXIT_BREACH


def _cmd_demo(args: argparse.Namespace) -> int:
    from harness.demo_target import DEMO_PASSWORD_ENV, DemoBackend
    from harness.plan import load_plan
    from harness.rehearsal import RunOptions, run_plan

    # the bundled demo's seeded password is public; a real target's never is
    os.environ.setdefault(DEMO_PASSWORD_ENV, "rehearse-demo")
    os.environ.setdefault("REHEARSE_PASSWORD", os.environ[DEMO_PASSWORD_ENV])
    os.environ.setdefault("REHEARSE_USER", "founder@demo.example")
    plan_path = args.plan or str(Path(__file__).resolve().parent.parent / "scenarios" / "plans" / "demo.yaml")
    with DemoBackend() as backend:
        print(f"Demo backend: {backend.url}")
        lp = load_plan(plan_path, base_url=backend.url)
        result, path = run_plan(lp, RunOptions(out_root=Path(args.out), duration_s=args.duration))
    _print_outcome(result, path)
    return EXIT_PASS  # make demo shows the rehearsal; its verdict is in the report


def _cmd_serve(args: argparse.Namespace) -> int:
    from demo_backend.__main__ import main as serve_main

    argv = ["--host", args.host, "--port", str(args.port)]
    if args.lazy_init_ms is not None:
        argv += ["--lazy-init-ms", str(args.lazy_init_ms)]
    if args.serialize_route:
        argv += ["--serialize-route", args.serialize_route]
    if args.slow_dashboard_ms is not None:
        argv += ["--slow-dashboard-ms", str(args.slow_dashboard_ms)]
    return serve_main(argv)


def _cmd_mobile(args: argparse.Namespace) -> int:
    from harness.mobile_phase import run_mobile_only
    from harness.plan import load_plan

    lp = load_plan(args.plan, base_url=args.base_url)
    result, path = run_mobile_only(lp, Path(args.out))
    _print_outcome(result, path)
    return EXIT_PASS if result.verdict.passed else EXIT_BREACH


def _compare(baseline: Path, current: RunResult, threshold_pct: float, min_ms: float, markdown: Path | None) -> bool:
    """Print the comparison with a baseline (and save it as Markdown); True when a p95 regressed."""
    from harness.compare import compare, to_markdown
    from harness.results import load_result

    comparison = compare(load_result(baseline), current, threshold_pct, min_ms)
    text = to_markdown(comparison)
    print(text)
    if markdown is not None:
        markdown.write_text(text + "\n", encoding="utf-8")
    return comparison.regressed


def _cmd_compare(args: argparse.Namespace) -> int:
    from harness.results import load_result

    markdown = Path(args.markdown) if args.markdown else None
    current = load_result(Path(args.current))
    regressed = _compare(Path(args.baseline), current, args.threshold_pct, args.min_ms, markdown)
    return EXIT_BREACH if regressed else EXIT_PASS


def _cmd_profiles(args: argparse.Namespace) -> int:
    from harness.network.netem import detect_netem
    from harness.network.profiles import PRESETS

    if args.json:
        print(json.dumps([p.to_dict() for p in PRESETS.values()], indent=2))
        return EXIT_PASS

    def rate(kbit: float | None) -> str:
        return "unlimited" if kbit is None else f"{kbit:g} kbit/s"

    print(f"{'name':<14}{'RTT':>9}{'jitter':>9}{'down':>16}{'up':>16}{'loss':>7}  source")
    for p in PRESETS.values():
        print(
            f"{p.name:<14}{p.rtt_ms:>6g} ms{p.jitter_ms:>6g} ms{rate(p.down_kbit):>16}{rate(p.up_kbit):>16}"
            f"{p.loss_pct:>6g}%  {p.source}"
        )
    available, reason = detect_netem()
    kernel = "available" if available else f"not available ({reason})"
    print(f"\nShaping backends here: proxy (always); netem {kernel}. Choose with run.network_backend.")
    return EXIT_PASS


COMMANDS = {
    "profiles": _cmd_profiles,
    "compare": _cmd_compare,
    "run": _cmd_run,
    "validate": _cmd_validate,
    "report": _cmd_report,
    "demo": _cmd_demo,
    "serve-demo": _cmd_serve,
    "mobile": _cmd_mobile,
}


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code. Never lets a traceback reach the user for expected failures."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PlanError as exc:
        print(f"rehearse: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except HarnessError as exc:
        print(f"rehearse: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rehearse: interrupted", file=sys.stderr)
        return EXIT_INFRA
    except Exception as exc:  # a bug of ours: one line, and the traceback only on request
        if os.environ.get("REHEARSE_DEBUG"):
            raise
        print(f"rehearse: internal error: {type(exc).__name__}: {exc} (REHEARSE_DEBUG=1 shows where)", file=sys.stderr)
        return EXIT_INFRA


def main_entry() -> None:
    sys.exit(main())
