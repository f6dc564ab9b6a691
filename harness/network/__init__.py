"""Network profiles for simulated devices, and the two ways of applying them.

- ``profiles``: ``NetworkProfile`` and named ``PRESETS`` with cited sources.
- ``floor``: ``network_floor_ms``, the least time a response can take on a profile's link.
- ``proxy``: a userland shaping HTTP/CONNECT proxy, run as its own subprocess (stdlib asyncio only; it must
  stay out of the gevent-patched load process). ``start_proxy`` spawns it.
- ``netem``: the kernel backend's link (``tc netem`` in user+network namespaces) where the kernel has netem, and
  ``choose_backend`` to fall back to the proxy where it does not; ``kernel`` runs the load's traffic over it
  (an unshaping proxy in the client namespace, ``relay`` out of the server namespace to the target).
- ``spawn``: the helper subprocesses' handle (READY line, STATS, stop on SIGTERM or when our pipe closes).

Importing this package imports neither Locust nor gevent.
"""

from __future__ import annotations

from harness.errors import NetworkError
from harness.network.floor import network_floor_ms, wire_bytes
from harness.network.profiles import (
    PRESETS,
    NetworkProfile,
    ProfileError,
    UnknownProfileError,
    get_profile,
)

__all__ = [
    "PRESETS",
    "NetworkError",
    "NetworkProfile",
    "ProfileError",
    "UnknownProfileError",
    "get_profile",
    "network_floor_ms",
    "wire_bytes",
]
