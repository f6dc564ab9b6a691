"""Helper processes that print ``READY <host> <port>`` once listening: spawning them and their handle.

The shaping proxy and the kernel backend's exit relay are plain-asyncio subprocesses (the load process is
gevent-patched). Each prints its READY line on stdout, stops cleanly on SIGTERM and may print
``STATS {json}`` on stderr as it goes. Their stdin is a pipe from us and they stop when it closes
(``--stop-on-stdin-eof``), so none outlives a parent that was killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import NetworkError

__all__ = ["ChildHandle", "child_env", "serve_until_stopped", "spawn_ready"]


class ChildHandle:
    """A running helper subprocess; ``stop()`` (or leaving the ``with`` block) ends it."""

    def __init__(self, process: subprocess.Popen[bytes], host: str, port: int, stderr: _StderrTail) -> None:
        self.process = process
        self.host = host
        self.port = port
        self._stderr = stderr
        self.stats: dict[str, int] | None = None

    @property
    def url(self) -> str:
        """``http://host:port``, for ``httpx.Client(proxy=...)`` and the like."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout_s: float = 5.0) -> dict[str, int]:
        """SIGTERM the helper, wait for it, and return its counters (empty if it printed none)."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        self._stderr.join(timeout_s)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stats = self._stderr.stats()
        return self.stats

    def stderr_tail(self) -> str:
        """The last lines the helper wrote to stderr."""
        return self._stderr.text()

    def __enter__(self) -> ChildHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _StderrTail:
    """Drains a pipe on a thread so the child never blocks on a full stderr; keeps the last lines."""

    def __init__(self, stream: Any) -> None:
        self._lines: deque[str] = deque(maxlen=50)
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True, name="helper-stderr")
        self._thread.start()

    def _drain(self, stream: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            for raw in iter(stream.readline, b""):
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def text(self) -> str:
        return "\n".join(self._lines)

    def stats(self) -> dict[str, int]:
        for line in reversed(self._lines):
            if line.startswith("STATS "):
                with contextlib.suppress(ValueError):
                    data = json.loads(line[6:])
                    if isinstance(data, dict):
                        return {str(k): int(v) for k, v in data.items()}
        return {}


def _read_ready_line(process: subprocess.Popen[bytes], timeout_s: float) -> str:
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout_s
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no READY line within {timeout_s} s")
            if not selector.select(remaining):
                continue
            data = os.read(fd, 4096)
            if not data:
                raise EOFError(f"exited with code {process.wait(timeout_s)} before READY")
            buffer += data
    return buffer.split(b"\n", 1)[0].decode("utf-8", "replace").strip()


def child_env() -> dict[str, str]:
    """The parent's environment, with this checkout first on PYTHONPATH so the child runs the same code."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _stop_on_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """In a helper: set ``stop`` once stdin reaches EOF (the parent closed it, or died)."""

    def readable() -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop.set()

    loop.add_reader(0, readable)


async def serve_until_stopped(
    start: Callable[[], Awaitable[asyncio.Server]],
    tasks: set[asyncio.Task[None]],
    stats: Callable[[], dict[str, int]],
    *,
    watch_stdin: bool = False,
) -> int:
    """The helper's side: serve, print READY, and on SIGTERM/SIGINT (or stdin EOF) end its connections and print STATS.

    ``start`` opens the server once the stop signals are handled; ``tasks`` are the open connections' tasks.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if watch_stdin:
        _stop_on_stdin_eof(loop, stop)
    server = await start()
    bound = server.sockets[0].getsockname()
    print(f"READY {bound[0]} {bound[1]}", flush=True)
    await stop.wait()
    server.close()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"STATS {json.dumps(stats())}", file=sys.stderr, flush=True)
    return 0


def spawn_ready(argv: Sequence[str], what: str, timeout_s: float = 10, *, pass_fds: Sequence[int] = ()) -> ChildHandle:
    """Start ``argv`` and return once it printed ``READY <host> <port>``; NetworkError naming ``what`` if not.

    ``argv`` gets ``--stop-on-stdin-eof`` appended: helpers must accept it.
    """
    try:
        process = subprocess.Popen(
            [*argv, "--stop-on-stdin-eof"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        raise NetworkError(f"cannot start {what} ({argv[0]}): {exc}") from exc
    assert process.stderr is not None
    tail = _StderrTail(process.stderr)
    try:
        line = _read_ready_line(process, timeout_s)
        word, ready_host, ready_port = line.split(" ")
        if word != "READY":
            raise ValueError(f"unexpected first line {line!r}")
        return ChildHandle(process, ready_host, int(ready_port), tail)
    except (TimeoutError, EOFError, ValueError) as exc:
        with contextlib.suppress(OSError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout_s)
        tail.join(1.0)
        stderr = tail.text().strip()
        raise NetworkError(
            f"{what} did not start: {exc}" + (f"; its stderr: {stderr[-800:]}" if stderr else "")
        ) from exc
