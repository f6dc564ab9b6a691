"""One direction of one simulated device link: when each byte arrives, and delivering it then.

``Shaper`` is the whole link model the userland proxy applies (pure arithmetic, no I/O):

- Rate: a FIFO serialiser (a token bucket one segment deep) charging each segment of up to 1,448 bytes its
  payload plus 66 TCP/IP header bytes, as ``harness.network.floor`` does.
- Delay: rtt/2 each way. Jitter draws a fresh one-way delay, uniform in ±jitter/2, for each flight (whenever
  nothing is in flight in that direction), so bytes are never reordered and a response's segments share it.
- Loss: each segment is lost with probability loss_pct; a loss delays it by one RTT (fast retransmit; a tail
  loss in real TCP can cost a 200 ms+ RTO instead) and everything behind it waits (head-of-line blocking),
  and the retransmitted copy occupies the link again. Congestion-window collapse is not modelled.
- Handshake: ``start_at`` keeps the link busy until then (the proxy passes connect time + one RTT upstream).

``DelayedWriter`` writes bytes to an asyncio stream at the times a ``Shaper`` gives. asyncio's epoll waits
round up to whole milliseconds (often one more), which would add ~1 ms per hop; ``new_event_loop()`` waits on
the epoll descriptor with ``select()`` instead, which takes microseconds, so bytes leave within ~0.1-0.3 ms of
when the model says (measured on a 2-core VM).
"""

from __future__ import annotations

import asyncio
import random
import select
import selectors
import sys
from collections import deque

from harness.network.floor import TCP_MSS, TCPIP_HEADER_BYTES

__all__ = ["DelayedWriter", "Shaper", "new_event_loop"]

_EARLY_S = 0.0001  # wake-ups come ~0.1-0.2 ms late (timer slack, VM): aim a little early to centre the error
_COARSE_WAIT_S = 0.002  # longer waits wake later: stop this short of the target, then wait the rest
_QUEUE_LIMIT_BYTES = 1 << 20  # stop reading the source while this much waits to be delivered


class Shaper:
    """One direction of one device link: when does each segment arrive at the far end."""

    def __init__(
        self,
        *,
        rate_kbit: float | None,
        rtt_ms: float,
        jitter_ms: float,
        loss_pct: float,
        rng: random.Random,
        start_at: float,
    ) -> None:
        self._bytes_per_s = rate_kbit * 1000 / 8 if rate_kbit is not None else None
        self._rtt = rtt_ms / 1000
        self._one_way = self._rtt / 2
        self._half_jitter = jitter_ms / 2000
        self._loss = loss_pct / 100
        self._rng = rng
        self._link_free = start_at
        self._last_delivery = start_at
        self._delay = self._draw_delay()
        self.transparent = self._bytes_per_s is None and self._rtt == 0 and self._half_jitter == 0 and self._loss == 0

    def _draw_delay(self) -> float:
        if self._half_jitter == 0:
            return self._one_way
        return max(0.0, self._one_way + self._rng.uniform(-self._half_jitter, self._half_jitter))

    def schedule(self, nbytes: int, now: float) -> float:
        """Delivery time of one segment of ``nbytes`` payload handed to the link at ``now``."""
        if now >= self._last_delivery:  # nothing in flight: a new flight, a new delay
            self._delay = self._draw_delay()
        start = max(now, self._link_free)
        tx = 0.0
        if self._bytes_per_s is not None:
            tx = (nbytes + TCPIP_HEADER_BYTES) / self._bytes_per_s
        self._link_free = start + tx
        deliver = self._link_free + self._delay
        if self._loss and self._rng.random() < self._loss:
            deliver += self._rtt
            self._link_free += tx  # the retransmitted copy crosses the link again
        deliver = max(deliver, self._last_delivery)
        self._last_delivery = deliver
        return deliver


class DelayedWriter:
    """Delivers bytes to ``writer`` at the times a ``Shaper`` gives, in order."""

    def __init__(self, shaper: Shaper, writer: asyncio.StreamWriter) -> None:
        self._shaper = shaper
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._queue: deque[tuple[float, bytes]] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._failed: BaseException | None = None
        self._task = self._loop.create_task(self._run())

    async def push(self, data: bytes, *, shaped: bool = True, not_before: float = 0.0) -> None:
        """Queue ``data``; waits only when too much is already queued or the writer is backed up."""
        if self._failed is not None:
            raise ConnectionResetError("peer gone") from self._failed
        now = self._loop.time()
        if not shaped or self._shaper.transparent:
            at = max(now, not_before)
            if not self._queue and at <= now:
                self._writer.write(data)
                await self._writer.drain()
                return
            self._append(at, data)
        else:
            for offset in range(0, len(data), TCP_MSS):
                segment = data[offset : offset + TCP_MSS]
                self._append(self._shaper.schedule(len(segment), now), segment)
        if self._queued_bytes > _QUEUE_LIMIT_BYTES:
            await self.drained()

    def _append(self, at: float, data: bytes) -> None:
        self._queue.append((at, data))
        self._queued_bytes += len(data)
        self._drained.clear()
        self._wake.set()

    async def drained(self) -> None:
        """Wait until everything queued so far has been written."""
        await self._drained.wait()
        if self._failed is not None:
            raise ConnectionResetError("peer gone") from self._failed

    async def _run(self) -> None:
        queue = self._queue
        loop = self._loop
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while queue:
                    wait = queue[0][0] - _EARLY_S - loop.time()
                    if wait > _COARSE_WAIT_S:
                        # Long timed waits wake later than short ones: stop short, then wait the rest.
                        await asyncio.sleep(wait - _COARSE_WAIT_S / 2)
                        continue
                    if wait > 0:
                        await asyncio.sleep(wait)
                    due = loop.time() + _EARLY_S
                    chunks = []
                    while queue and queue[0][0] <= due:
                        chunks.append(queue.popleft()[1])
                    data = b"".join(chunks)
                    self._queued_bytes -= len(data)
                    self._writer.write(data)
                    await self._writer.drain()
                self._drained.set()
        except (ConnectionError, OSError) as exc:
            self._failed = exc
            queue.clear()
            self._queued_bytes = 0
            self._drained.set()

    def cancel(self) -> None:
        """Stop delivering; whatever is still queued is dropped."""
        self._task.cancel()


# hasattr: a gevent-patched process (the load generator) imports this module only to start the proxy
# subprocess, and gevent's selectors has no EpollSelector
if sys.platform == "linux" and hasattr(selectors, "EpollSelector"):

    class _PreciseEpollSelector(selectors.EpollSelector):
        """epoll, but timed waits go through ``select()`` on the epoll fd: microseconds, not milliseconds."""

        def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            if timeout is not None and timeout > 0 and self.fileno() < 1024:  # select()'s FD_SETSIZE
                select.select([self.fileno()], [], [], timeout)
                timeout = 0
            return super().select(timeout)

    def new_event_loop() -> asyncio.AbstractEventLoop:
        """An asyncio loop whose timers fire to within a fraction of a millisecond."""
        return asyncio.SelectorEventLoop(_PreciseEpollSelector())

else:  # pragma: no cover - other platforms keep asyncio's default (millisecond) timers

    def new_event_loop() -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()
