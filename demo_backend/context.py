"""Everything one running demo backend owns: database file, warm-up state, the optional route lock."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time

from .db import Database
from .options import DEFAULT_DEMO_PASSWORD, DemoOptions
from .seed import SeedReport, seed
from .warmup import Warmup


class DemoBackend:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.password = os.environ.get(options.password_env) or DEFAULT_DEMO_PASSWORD
        self._tmpdir: str | None = None
        if options.db_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="rehearse-demo-")
            path = os.path.join(self._tmpdir, "demo.sqlite3")
        else:
            path = options.db_path
        self.db = Database(path)
        self._closed = False
        try:
            started = time.perf_counter()
            self.db.initialise()
            self.seed_report: SeedReport = seed(self.db.connection(), options, self.password)
            self.seed_seconds = time.perf_counter() - started
        except BaseException:
            self.close()
            raise
        self.warmup = Warmup(self.db, options.lazy_init_ms)
        # Process-wide lock planted around options.serialize_route's handler (a deliberate bottleneck).
        self.route_lock = threading.Lock()

    @property
    def db_path(self) -> str:
        return self.db.path

    def close(self) -> None:
        """Closes all connections; a temporary database is deleted. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.db.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
