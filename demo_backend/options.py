"""Run-time switches for the bundled demo backend."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DEMO_PASSWORD = "rehearse-demo"


@dataclass
class DemoOptions:
    """How the demo backend behaves.

    db_path: SQLite file to use; None means a fresh temporary file that is removed on stop.
    lazy_init_ms: real warm-up work done by the first /api/* request (0 disables it).
    serialize_route: path whose handler runs under one process-wide lock (requests queue).
    slow_dashboard_ms: deliberate extra server-side delay for GET /api/dashboard.
    seed_*: sizes of the seeded tables.
    password_env: env var holding the seeded users' password (default "rehearse-demo").
    """

    db_path: str | None = None
    lazy_init_ms: int = 1000
    serialize_route: str | None = None
    slow_dashboard_ms: int = 0
    seed_clients: int = 300
    seed_jobs: int = 3000
    seed_invoices: int = 20000
    password_env: str = "REHEARSE_DEMO_PASSWORD"

    def __post_init__(self) -> None:
        for name in ("lazy_init_ms", "slow_dashboard_ms", "seed_jobs", "seed_invoices"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.seed_clients < 1:
            raise ValueError("seed_clients must be >= 1")
        if self.serialize_route is not None and not self.serialize_route.startswith("/"):
            raise ValueError("serialize_route must be a path starting with '/'")
