"""A local Appium server from the pinned install in ``.appium`` (APPIUM_HOME), on a free port.

The server binary is started directly with node (not through npx) so the PID we hold is Appium's own, in
its own process group so chromedriver children go with it. It gets a private TMPDIR that is removed on stop.
Logs stay at warning level: Appium logs request bodies at info level, and those include typed passwords.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from harness.errors import DeviceError

_REPO_APPIUM_HOME = Path(__file__).resolve().parents[2] / ".appium"


def default_appium_home() -> Path:
    """``$REHEARSE_APPIUM_HOME`` if set, else the repository's ``.appium`` folder."""
    env = os.environ.get("REHEARSE_APPIUM_HOME")
    return Path(env) if env else _REPO_APPIUM_HOME


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS just handed out; another process may still take it, so callers retry on failure."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (all held open while choosing, so no two are the same)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class AppiumServer:
    """Start with ``with AppiumServer() as server: server.url``; stopped and cleaned up on exit."""

    def __init__(
        self,
        appium_home: Path | None = None,
        *,
        host: str = "127.0.0.1",
        startup_timeout_s: float = 60.0,
        log_level: str = "warn",
    ) -> None:
        self.appium_home = (appium_home or default_appium_home()).resolve()
        self.host = host
        self.startup_timeout_s = startup_timeout_s
        self.log_level = log_level
        self.port = 0
        self.tmp_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self._proc is None:
            raise DeviceError("Appium server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _main_js(self) -> Path:
        main = self.appium_home / "node_modules" / "appium" / "index.js"
        if not main.is_file():
            raise DeviceError(
                f"Appium is not installed in {self.appium_home} (no node_modules/appium): "
                "run scripts/setup_mobile.sh, or set mobile.appium_url to a running server"
            )
        return main

    def start(self) -> str:
        """Start the server and wait until ``GET /status`` answers; returns its URL."""
        if self._proc is not None:
            return self.url
        main = self._main_js()
        node = shutil.which("node")
        if node is None:
            raise DeviceError("node is not on PATH: Appium needs Node.js 20+ (see scripts/setup_mobile.sh)")
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="rehearse-appium-"))
        last_error = ""
        try:
            for _attempt in range(3):  # the free port may be taken between probing and binding
                self.port = free_port(self.host)
                last_error = self._launch(node, main)
                if not last_error:
                    return self.url
        except BaseException:
            self.stop()
            raise
        self.stop()
        raise DeviceError(f"Appium server did not start: {last_error}")

    def _launch(self, node: str, main: Path) -> str:
        """One attempt; returns "" when ready, else why it failed (the process is then gone)."""
        assert self.tmp_dir is not None
        log_path = self.tmp_dir / "appium.log"
        env = dict(os.environ, APPIUM_HOME=str(self.appium_home), TMPDIR=str(self.tmp_dir))
        cmd = [
            node,
            str(main),
            "server",
            "--address",
            self.host,
            "--port",
            str(self.port),
            "--base-path",
            "/",
            "--log-level",
            f"{self.log_level}:{self.log_level}",
            "--log-no-colors",
            "--log",
            str(log_path),
            "--tmp",
            str(self.tmp_dir),
        ]
        with open(self.tmp_dir / "appium.out", "wb") as out:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.tmp_dir,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout_s
        status_url = f"http://{self.host}:{self.port}/status"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    reason = f"exited with code {self._proc.returncode}: {self._tail()}"
                    self._proc = None
                    return reason
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(status_url).status_code == 200:
                        return ""
                time.sleep(0.1)
        reason = f"not ready after {self.startup_timeout_s:.0f} s: {self._tail()}"
        self._terminate()
        return reason

    def _tail(self, limit: int = 800) -> str:
        if self.tmp_dir is None:
            return ""
        text = ""
        for name in ("appium.out", "appium.log"):
            with contextlib.suppress(OSError):
                text += (self.tmp_dir / name).read_text(errors="replace")
        return " ".join(text[-limit:].split()) or "(no output)"

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # the whole group: Appium plus the chromedriver processes it spawned
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # stragglers left in the group
            os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the server (and its children) and remove its temporary folder. Safe to call twice."""
        self._terminate()
        if self.tmp_dir is not None:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.tmp_dir = None

    def __enter__(self) -> AppiumServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
