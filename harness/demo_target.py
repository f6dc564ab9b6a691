"""Start and stop the bundled demo backend as a subprocess on a free port (``rehearse demo``, tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from types import TracebackType

from harness.errors import TargetError

DEMO_PASSWORD_ENV = "REHEARSE_DEMO_PASSWORD"


class DemoBackend:
    """A running demo backend; a context manager that always stops it."""

    def __init__(
        self,
        lazy_init_ms: int | None = None,
        serialize_route: str | None = None,
        slow_dashboard_ms: int = 0,
        extra_args: list[str] | None = None,
        timeout_s: float = 60.0,
        password: str | None = None,
    ) -> None:
        self.env = dict(os.environ)
        if password is not None:
            self.env[DEMO_PASSWORD_ENV] = password  # the seeded users' password
        self.args = [sys.executable, "-m", "demo_backend", "--host", "127.0.0.1", "--port", "0"]
        if lazy_init_ms is not None:
            self.args += ["--lazy-init-ms", str(lazy_init_ms)]
        if serialize_route:
            self.args += ["--serialize-route", serialize_route]
        if slow_dashboard_ms:
            self.args += ["--slow-dashboard-ms", str(slow_dashboard_ms)]
        self.args += extra_args or []
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> DemoBackend:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        line: list[str] = []

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            line.append(self.proc.stdout.readline())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.timeout_s)
        first = line[0].strip() if line else ""
        if not first.startswith("READY "):
            err = ""
            self.stop()
            if self.proc.stderr is not None:
                err = self.proc.stderr.read()[-500:]
            raise TargetError(f"the demo backend did not start within {self.timeout_s:.0f} s: {err.strip()}")
        self.url = first.split(" ", 1)[1]
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> DemoBackend:
        self.stop()
        return self.start()

    def __enter__(self) -> DemoBackend:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
