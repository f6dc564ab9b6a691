"""python -m demo_backend --host 127.0.0.1 --port 0 ... ; prints "READY http://HOST:PORT" when serving."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from .options import DemoOptions
from .server import run


class _Stopped(Exception):
    pass


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo_backend", description="rehearse's demo B2B backend")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--db", dest="db_path", default=None, help="SQLite file (default: temporary)")
    parser.add_argument("--lazy-init-ms", type=int, default=DemoOptions.lazy_init_ms)
    parser.add_argument("--serialize-route", default=None, help="e.g. /api/dashboard")
    parser.add_argument("--slow-dashboard-ms", type=int, default=DemoOptions.slow_dashboard_ms)
    parser.add_argument("--seed-clients", type=int, default=DemoOptions.seed_clients)
    parser.add_argument("--seed-jobs", type=int, default=DemoOptions.seed_jobs)
    parser.add_argument("--seed-invoices", type=int, default=DemoOptions.seed_invoices)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        options = DemoOptions(
            db_path=args.db_path,
            lazy_init_ms=args.lazy_init_ms,
            serialize_route=args.serialize_route,
            slow_dashboard_ms=args.slow_dashboard_ms,
            seed_clients=args.seed_clients,
            seed_jobs=args.seed_jobs,
            seed_invoices=args.seed_invoices,
        )
    except ValueError as exc:
        print(f"demo_backend: {exc}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"READY {url}", flush=True)

    # uvicorn handles SIGTERM/SIGINT with a graceful shutdown, then re-raises the signal; these
    # handlers turn that re-raise into a normal exit instead of a signal death or a traceback.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        run(args.host, args.port, options, on_ready=ready)
    except _Stopped:
        pass
    except ValueError as exc:
        print(f"demo_backend: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"demo_backend: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
