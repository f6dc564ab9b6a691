"""Lazy first-request initialisation: builds an in-memory job search index, costing about lazy_init_ms.

The cost is real work (reading rows, tokenising them, hashing the index), repeated in verification
rounds until the configured budget is spent, so it competes for CPU like a real cold start would.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from .db import Database


class Warmup:
    def __init__(self, db: Database, budget_ms: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self._db = db
        self._budget_s = budget_ms / 1000.0
        self._clock = clock
        self._lock = threading.Lock()
        self.done = budget_ms <= 0
        self.index: dict[str, list[int]] = {}
        self.fingerprint = ""
        self.rounds = 0
        self.took_ms = 0.0

    def ensure(self) -> None:
        """Runs the warm-up once; concurrent callers wait until it has finished."""
        if self.done:
            return
        with self._lock:
            if self.done:
                return
            started = self._clock()
            self._build(started + self._budget_s)
            self.took_ms = (self._clock() - started) * 1000.0
            self.done = True

    def _build(self, deadline: float) -> None:
        conn = self._db.connection()
        rows = conn.execute(
            "SELECT j.id, j.title, j.status, c.name FROM jobs j JOIN clients c ON c.id = j.client_id"
        ).fetchall()
        index: dict[str, list[int]] = {}
        for job_id, title, status, client_name in rows:
            for word in f"{title} {status} {client_name}".lower().replace("-", " ").split():
                index.setdefault(word, []).append(job_id)
        self.index = index
        # Verification rounds: hash every posting list, chained, until the budget is spent.
        digest = hashlib.sha256()
        words = sorted(index)
        while True:
            for word in words:
                digest.update(word.encode())
                digest.update(",".join(map(str, index[word])).encode())
            self.rounds += 1
            if self._clock() >= deadline:
                break
        self.fingerprint = digest.hexdigest()
