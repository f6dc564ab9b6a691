"""After-idle cold starts: leave the target idle, then send one request per safe endpoint and time it."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from harness.bodies import dig
from harness.errors import TargetError
from harness.model import ColdStart, EndpointResult
from harness.plan import LoadedPlan
from harness.results import COLD_RATIO

SAFE = {"GET", "HEAD", "OPTIONS"}


def _merged_p50(endpoints: list[EndpointResult], name: str) -> tuple[float, float]:
    rows = [e for e in endpoints if e.name == name and e.profile == "direct" and e.count] or [
        e for e in endpoints if e.name == name and e.count
    ]
    if not rows:
        return 0.0, 0.0
    total = sum(e.count for e in rows)
    # count-weighted mean of p50s: close enough for a 3x threshold, and needs no histogram decoding here
    return sum(e.p50_ms * e.count for e in rows) / total, rows[0].budget_ms


def _client(lp: LoadedPlan) -> httpx.Client:
    target = lp.plan.target
    return httpx.Client(
        base_url=target.base_url, verify=target.verify_tls, timeout=target.timeout_s, headers=dict(target.headers)
    )


def idle_probe(
    lp: LoadedPlan,
    idle_s: float,
    endpoints: list[EndpointResult],
    wait: Callable[[float], bool] | None = None,
) -> list[ColdStart]:
    """Idle for ``idle_s`` (``wait`` returns True if interrupted), then time one request per safe endpoint.

    Writes are skipped on purpose: a probe must not create data. Logging in happens before the idle spell so the
    probe times the endpoints, not the login.
    """
    plan = lp.plan
    with _client(lp) as client:
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
        if wait is not None:
            if wait(idle_s):
                return []
        else:
            time.sleep(idle_s)
        client.close()  # a new connection, as a phone coming back after a while would open
    out: list[ColdStart] = []
    with _client(lp) as client:
        for ep in plan.endpoints:
            if ep.method not in SAFE:
                continue
            start = time.perf_counter()
            try:
                client.request(ep.method, ep.path, headers=auth if ep.auth else None)
            except httpx.HTTPError:
                continue
            first = (time.perf_counter() - start) * 1000.0
            warm, budget = _merged_p50(endpoints, ep.name)
            budget = budget or plan.budget_for(ep)
            ratio = first / warm if warm > 0 else 0.0
            out.append(
                ColdStart(
                    endpoint=ep.name,
                    first_ms=first,
                    warm_p50_ms=warm,
                    ratio=ratio,
                    kind="idle",
                    flagged=warm > 0 and first > budget and first > COLD_RATIO * warm,
                    profile="direct",
                )
            )
    return out
