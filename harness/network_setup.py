"""The plan's ``profiles:`` → network profiles with budgets, and starting the shaping backend for one."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from harness.errors import PlanError
from harness.network.floor import network_floor_ms
from harness.network.profiles import NetworkProfile, get_profile
from harness.plan import CustomProfile, Plan, ProfileRef


@dataclass(frozen=True)
class ResolvedProfile:
    name: str
    profile: NetworkProfile
    budget_ms: float | None = None

    @property
    def shaped(self) -> bool:
        return not self.profile.is_direct

    def to_dict(self) -> dict[str, Any]:
        return {**self.profile.to_dict(), "name": self.name, "budget_ms": self.budget_ms}


def resolve_profiles(plan: Plan, path: str) -> list[ResolvedProfile]:
    out: list[ResolvedProfile] = []
    for i, item in enumerate(plan.profiles):
        key = f"profiles[{i}]"
        try:
            if isinstance(item, str):
                out.append(ResolvedProfile(item, get_profile(item)))
            elif isinstance(item, ProfileRef):
                out.append(ResolvedProfile(item.preset, get_profile(item.preset), item.budget_ms))
            elif isinstance(item, CustomProfile):
                prof = NetworkProfile(
                    name=item.name,
                    rtt_ms=item.rtt_ms,
                    jitter_ms=item.jitter_ms,
                    down_kbit=item.down_kbit,
                    up_kbit=item.up_kbit,
                    loss_pct=item.loss_pct,
                    source="plan",
                )
                out.append(ResolvedProfile(item.name, prof, item.budget_ms))
        except (KeyError, ValueError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            raise PlanError(str(msg), path=path, key=key) from exc
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise PlanError("a profile is listed twice; list each once", path=path, key="profiles")
    return out


def floor_for(prof: ResolvedProfile, response_bytes: float) -> float:
    """The network floor of one request on a kept-alive connection: what no server can beat on this link."""
    return float(network_floor_ms(prof.profile, int(response_bytes), new_connection=False))


@dataclass
class Shaping:
    handle: AbstractContextManager[Any]
    host: str
    port: int
    backend: str
    notice: str = ""


def start_shaping(prof: ResolvedProfile, requested: str, seed: int = 0) -> Shaping:
    """Start the shaping backend for a profile: netem where asked for and the kernel has it, else the proxy.

    Either way the load talks to an HTTP proxy at ``host:port``; with netem that proxy does no shaping and its
    upstream connections cross a netem link (``harness.network.kernel``). A fallback carries a one-line notice.
    """
    from harness.network.netem import choose_backend

    notice = ""
    if requested in ("netem", "auto"):
        backend, notice = choose_backend(requested)
        if backend == "netem":
            from harness.network.kernel import start_kernel_shaping

            kernel = start_kernel_shaping(prof.profile)
            return Shaping(handle=kernel, host=kernel.host, port=kernel.port, backend="netem")
    from harness.network.proxy import start_proxy

    handle = start_proxy(prof.profile, seed=seed)  # raises NetworkError with the proxy's own message
    return Shaping(handle=handle, host=handle.host, port=handle.port, backend="proxy", notice=notice)
