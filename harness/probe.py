"""After-idle cold starts: leave the target idle, then send one request per safe endpoint and time it."""

from __future__ import annotations

import time

import httpx

from harness.bodies import dig
from harness.errors import TargetError
from harness.model import ColdStart, EndpointResult
from harness.plan import LoadedPlan
from harness.results import is_cold_start

SAFE = {"GET", "HEAD", "OPTIONS"}


def _warm_reference(deploy: list[ColdStart], endpoints: list[EndpointResult]) -> dict[str, tuple[float, float]]:
    """Per endpoint, the warm p50 (HDR-merged across scenarios, as the deploy cold starts computed it) and the
    budget; the probe is unshaped, so the "direct" profile is preferred where it was measured."""
    budgets = {(e.name, e.profile): e.budget_ms for e in endpoints}
    out: dict[str, tuple[float, float]] = {}
    for c in sorted(deploy, key=lambda c: c.profile != "direct"):
        if c.endpoint not in out and c.warm_p50_ms > 0:
            out[c.endpoint] = (c.warm_p50_ms, budgets.get((c.endpoint, c.profile), 0.0))
    return out


def target_client(lp: LoadedPlan, timeout_s: float | None = None) -> httpx.Client:
    """An httpx client for the plan's target: its base URL, TLS check, headers and (unless given) timeout."""
    target = lp.plan.target
    return httpx.Client(
        base_url=target.base_url,
        verify=target.verify_tls,
        timeout=target.timeout_s if timeout_s is None else timeout_s,
        headers=dict(target.headers),
    )


def idle_probe(
    lp: LoadedPlan,
    idle_s: float,
    endpoints: list[EndpointResult],
    deploy: list[ColdStart],
) -> list[ColdStart]:
    """Idle for ``idle_s``, then time one request per safe endpoint against its warm p50 from the run.

    Writes are skipped on purpose: a probe must not create data. Logging in happens before the idle spell so the
    probe times the endpoints, not the login.
    """
    plan = lp.plan
    with target_client(lp) as client:
        auth: dict[str, str] = {}
        if plan.login is not None:
            login = plan.login
            body = {login.username_field: lp.secrets.username, login.password_field: lp.secrets.password}
            try:
                resp = client.request(login.method, login.path, json=body)
                token = dig(resp.json(), login.token_path)
            except (httpx.HTTPError, ValueError) as exc:
                raise TargetError(f"idle probe: login at {login.path} failed ({type(exc).__name__})") from exc
            if isinstance(token, str):
                auth = {login.header: f"{login.scheme} {token}" if login.scheme else token}
        time.sleep(idle_s)
    reference = _warm_reference(deploy, endpoints)
    out: list[ColdStart] = []
    with target_client(lp) as client:  # a new connection, as a phone coming back after a while would open
        for ep in plan.endpoints:
            if ep.method not in SAFE:
                continue
            start = time.perf_counter()
            try:
                client.request(ep.method, ep.path, headers=auth if ep.auth else None)
            except httpx.HTTPError:
                continue
            first = (time.perf_counter() - start) * 1000.0
            warm, budget = reference.get(ep.name, (0.0, 0.0))
            budget = budget or plan.budget_for(ep)
            ratio = first / warm if warm > 0 else 0.0
            out.append(
                ColdStart(
                    endpoint=ep.name,
                    first_ms=first,
                    warm_p50_ms=warm,
                    ratio=ratio,
                    kind="idle",
                    flagged=is_cold_start(first, warm, budget),
                    profile="direct",
                )
            )
    return out
