"""Named network profiles: what one simulated device's link looks like.

Every preset's numbers come from a public reference (see /work/shared/reference/network-presets.md); the
``source`` field says which, so a report can cite it. Rates are kbit/s (1 kbit = 1,000 bit), ``None`` meaning
unlimited. RTT and jitter are milliseconds; ``jitter_ms`` is the full spread of the round trip: each one-way
delay varies uniformly within ±jitter_ms/2 around rtt_ms/2, so the RTT stays within rtt_ms ± jitter_ms and its
mean is unchanged.

DevTools and Lighthouse multiply their presets by adjustment factors (latency x 2.75 to 5, throughput x 0.9)
because DevTools throttles whole requests, not packets. We shape packets and count TCP/IP header bytes
ourselves, so the presets below use the unadjusted RTT and bandwidth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from harness.errors import PlanError

__all__ = ["PRESETS", "NetworkProfile", "ProfileError", "UnknownProfileError", "get_profile"]


class ProfileError(PlanError, ValueError):
    """A network profile has an invalid value (also a ValueError, so validators can translate it)."""


class UnknownProfileError(PlanError, KeyError):
    """No preset has that name (also a KeyError, as from a dict lookup)."""

    def __str__(self) -> str:
        # KeyError quotes its message; keep the plain sentence.
        return Exception.__str__(self)


@dataclass(frozen=True)
class NetworkProfile:
    """One device link: delay, jitter, per-direction rate (None = unlimited) and packet loss."""

    name: str
    rtt_ms: float = 0
    jitter_ms: float = 0
    down_kbit: float | None = None
    up_kbit: float | None = None
    loss_pct: float = 0
    source: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ProfileError("a network profile needs a name", key="name")
        for key in ("rtt_ms", "jitter_ms", "loss_pct"):
            value = getattr(self, key)
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise ProfileError(f"must be a finite number >= 0, got {value!r}", key=key)
        if self.loss_pct >= 100:
            raise ProfileError(f"must be below 100 (percent), got {self.loss_pct!r}", key="loss_pct")
        for key in ("down_kbit", "up_kbit"):
            value = getattr(self, key)
            if value is not None and (not _is_number(value) or not math.isfinite(value) or value <= 0):
                raise ProfileError(f"must be a number > 0 (kbit/s) or null for unlimited, got {value!r}", key=key)

    @property
    def is_direct(self) -> bool:
        """True when the profile shapes nothing at all."""
        return (
            self.rtt_ms == 0
            and self.jitter_ms == 0
            and self.down_kbit is None
            and self.up_kbit is None
            and self.loss_pct == 0
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; ``from_dict(p.to_dict()) == p``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkProfile:
        """Build a profile from a mapping, naming any unknown key."""
        if not isinstance(data, dict):
            raise ProfileError(f"a network profile must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(
                f"unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}", key=unknown[0]
            )
        if "name" not in data:
            raise ProfileError("a network profile needs a name", key="name")
        if not isinstance(data["name"], str) or not isinstance(data.get("source", ""), str):
            raise ProfileError("name and source must be strings", key="name")
        return cls(**data)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_DEVTOOLS = "Chrome DevTools NetworkManager.ts"
_LIGHTHOUSE = "Lighthouse core/config/constants.js"
_WPT = "WebPageTest connectivity.ini.sample"

PRESETS: dict[str, NetworkProfile] = {
    p.name: p
    for p in [
        NetworkProfile("direct", source="no shaping"),
        # WebPageTest's default desktop connection (Cable): 5/1 Mbit/s, 28 ms. Chosen over FIOS (20/5, 4 ms)
        # because a demo audience is rarely on fibre and the slower link is the one that breaks budgets.
        NetworkProfile("broadband", rtt_ms=28, down_kbit=5000, up_kbit=1000, source=f"{_WPT}: Cable"),
        # Busy shared office Wi-Fi. RTT and downlink from Lighthouse desktopDense4G (40 ms, 10,240 kbit/s);
        # our assumptions on top: uplink half the downlink (shared airtime, clients upload less efficiently),
        # ±10 ms RTT jitter and 0.5 % loss from contention and retries on a crowded channel.
        NetworkProfile(
            "office-wifi",
            rtt_ms=40,
            jitter_ms=10,
            down_kbit=10240,
            up_kbit=5120,
            loss_pct=0.5,
            source=f"{_LIGHTHOUSE}: desktopDense4G (40 ms, 10,240 kbit/s) + assumed 5,120 kbit/s up, "
            "10 ms jitter, 0.5 % loss",
        ),
        # Broadband (WPT Cable) plus an assumed 80 ms for a corporate VPN hairpin to a distant concentrator.
        # Encapsulation overhead (~60-80 bytes per packet) is not modelled.
        NetworkProfile(
            "vpn",
            rtt_ms=28 + 80,
            down_kbit=5000,
            up_kbit=1000,
            source=f"{_WPT}: Cable (28 ms, 5/1 Mbit/s) + assumed 80 ms VPN",
        ),
        # DevTools "Fast 4G": RTT 60 ms, 9 Mbit/s down, 1.5 Mbit/s up (DevTools applies x2.75 / x0.9 on top).
        NetworkProfile("fast-4g", rtt_ms=60, down_kbit=9000, up_kbit=1500, source=f"{_DEVTOOLS}: Fast 4G"),
        # DevTools "Slow 4G" (formerly Fast 3G) = Lighthouse's default mobileSlow4G:
        # 150 ms, 1.6 Mbit/s down, 750 kbit/s up.
        NetworkProfile(
            "slow-4g",
            rtt_ms=150,
            down_kbit=1600,
            up_kbit=750,
            source=f"{_DEVTOOLS}: Slow 4G / {_LIGHTHOUSE}: mobileSlow4G",
        ),
        # Lighthouse mobileRegular3G: 300 ms, 700 kbit/s (DevTools applies 630/630 after its x0.9).
        NetworkProfile("3g", rtt_ms=300, down_kbit=700, up_kbit=700, source=f"{_LIGHTHOUSE}: mobileRegular3G"),
        NetworkProfile("wpt-fios", rtt_ms=4, down_kbit=20000, up_kbit=5000, source=f"{_WPT}: FIOS"),
        NetworkProfile("wpt-cable", rtt_ms=28, down_kbit=5000, up_kbit=1000, source=f"{_WPT}: Cable"),
        NetworkProfile("wpt-dsl", rtt_ms=50, down_kbit=1500, up_kbit=384, source=f"{_WPT}: DSL"),
        NetworkProfile("wpt-3g", rtt_ms=300, down_kbit=1600, up_kbit=768, source=f"{_WPT}: 3G"),
        NetworkProfile("wpt-edge", rtt_ms=840, down_kbit=240, up_kbit=200, source=f"{_WPT}: Edge"),
    ]
}


def get_profile(name: str) -> NetworkProfile:
    """The preset called ``name``; the error lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownProfileError(f"unknown network profile {name!r}; known profiles: {', '.join(PRESETS)}") from None
