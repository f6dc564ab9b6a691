"""The network floor of one HTTP exchange: the time no server, however fast, can beat on a given link.

Model (network-presets.md, "Model for a response's network floor")::

    time ≈ RTT x round trips + wire bytes ÷ rate, in each direction

    round trips = 1 per request on a kept-alive connection
                  + 1 for a new TCP connection (the SYN / SYN-ACK handshake)
                  + 1 for TLS 1.3 (2 for TLS 1.2; ``tls_round_trips``)
    wire bytes  = bytes + 66 header bytes per started 1,448-byte segment
                  (≈ bytes x (1 + 66/1448) for large transfers;
                   66 = Ethernet 14 + IP 20 + TCP 32 with timestamps)

Jitter is left out (its mean is zero) and so is loss (it only adds): this is a floor, not an estimate of the
tail. Not modelled either: TCP slow start (kernel shaping shows it on new connections, about +50 ms for
100 KB at 100 ms / 2 Mbit/s; the userland proxy does not) and TLS handshake bytes (certificates, a few KB).
The userland proxy (``harness.network.proxy``) implements exactly this model, which its tests check.
"""

from __future__ import annotations

from harness.network.profiles import NetworkProfile

__all__ = [
    "DEFAULT_REQUEST_BYTES",
    "DEFAULT_RESPONSE_HEAD_BYTES",
    "TCPIP_HEADER_BYTES",
    "TCP_MSS",
    "network_floor_ms",
    "transfer_ms",
    "wire_bytes",
]

TCP_MSS = 1448
"""Payload bytes in a full TCP segment on a 1,500-byte MTU with TCP timestamps."""
TCPIP_HEADER_BYTES = 66
"""Ethernet (14) + IPv4 (20) + TCP with timestamps (32) bytes on the wire per segment."""
DEFAULT_REQUEST_BYTES = 300
"""A typical GET: request line plus a handful of headers."""
DEFAULT_RESPONSE_HEAD_BYTES = 200
"""Status line and response headers in front of the body."""


def wire_bytes(payload: int) -> int:
    """Bytes on the wire for ``payload`` bytes of TCP payload, counting per-segment headers."""
    if payload <= 0:
        return 0
    segments = -(-payload // TCP_MSS)
    return payload + segments * TCPIP_HEADER_BYTES


def transfer_ms(payload: int, rate_kbit: float | None) -> float:
    """Serialisation time of ``payload`` bytes at ``rate_kbit`` (0 when the rate is unlimited)."""
    if rate_kbit is None:
        return 0.0
    return wire_bytes(payload) * 8 / rate_kbit  # bits / (kbit/s) = ms


def network_floor_ms(
    profile: NetworkProfile,
    response_bytes: int,
    request_bytes: int = DEFAULT_REQUEST_BYTES,
    new_connection: bool = False,
    tls: bool = False,
    *,
    response_head_bytes: int = DEFAULT_RESPONSE_HEAD_BYTES,
    tls_round_trips: int = 1,
) -> float:
    """Least time (ms) for one request and its response on ``profile``'s link (model: module docstring).

    ``response_bytes`` is the body; ``response_head_bytes`` (status line and headers) is added to it.
    ``request_bytes`` is the whole request, head and body. ``tls`` adds ``tls_round_trips`` (1 for TLS 1.3).
    """
    if response_bytes < 0 or request_bytes < 0 or response_head_bytes < 0 or tls_round_trips < 0:
        raise ValueError("byte counts and round trips must be >= 0")
    round_trips = 1 + (1 if new_connection else 0) + (tls_round_trips if tls else 0)
    return (
        profile.rtt_ms * round_trips
        + transfer_ms(request_bytes, profile.up_kbit)
        + transfer_ms(response_bytes + response_head_bytes, profile.down_kbit)
    )
