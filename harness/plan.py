"""The plan file: what to rehearse, against which target, under which budgets.

Validated with pydantic; every problem becomes one ``PlanError`` line naming the file, the key path and the fix.
Secrets are never in the plan: the plan names environment variables, and ``resolve_secrets`` reads them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import PlanError

DEFAULT_BUDGET_MS = 300.0
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Restart(_Strict):
    """How ``rehearse run --fresh-target`` restarts (or redeploys) the target, and how it knows it is back."""

    command: str | list[str]  # a string runs under ``sh -c``; a list is the argv itself
    ready_path: str = "/"
    timeout_s: float = Field(default=120.0, gt=0)  # for the command, then again for readiness

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | list[str]) -> str | list[str]:
        if not (value.strip() if isinstance(value, str) else value and value[0].strip()):
            raise ValueError("must name a command, e.g. 'docker compose restart api' or [systemctl, restart, api]")
        return value

    @field_validator("ready_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /, e.g. /healthz")
        return value


class Target(_Strict):
    base_url: str
    verify_tls: bool = True
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0)
    restart: Restart | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an absolute http:// or https:// URL, e.g. http://127.0.0.1:8000")
        return value.rstrip("/")


class Login(_Strict):
    path: str = "/api/auth/login"
    method: HttpMethod = "POST"
    username: str | None = None
    username_env: str | None = None
    username_field: str = "email"
    password_env: str
    password_field: str = "password"
    token_path: str = "token"
    header: str = "Authorization"
    scheme: str = "Bearer"
    budget_ms: float = Field(default=DEFAULT_BUDGET_MS, gt=0)

    @model_validator(mode="after")
    def _who(self) -> Login:
        if not self.username and not self.username_env:
            raise ValueError("set username or username_env")
        return self


class Endpoint(_Strict):
    name: str = Field(min_length=1)
    method: HttpMethod = "GET"
    path: str
    budget_ms: float | None = Field(default=None, gt=0)
    weight: float = Field(default=1.0, ge=0)
    auth: bool = True
    json_body: dict[str, Any] | None = Field(default=None, alias="json")
    expect_status: list[int] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/', e.g. /api/dashboard")
        return value


class RepeatedLogins(_Strict):
    users: int = Field(default=1, ge=1, le=1000)
    pages: list[str] = Field(default_factory=lambda: ["me", "dashboard"])
    think_time_s: tuple[float, float] = (0.2, 0.5)


class ThreeProspects(_Strict):
    k: int = Field(default=3, ge=2, le=100)
    endpoint: str = "dashboard"
    bystander: str | None = "health"
    pause_s: float = Field(default=0.5, ge=0)
    solo_every: int = Field(default=1, ge=1)


class DemoSession(_Strict):
    users: int = Field(default=2, ge=1, le=1000)
    steps: list[str] = Field(default_factory=lambda: ["dashboard", "jobs", "create_job", "dashboard"])
    weights: dict[str, float] = Field(default_factory=dict)
    think_time_s: tuple[float, float] = (0.2, 0.8)


class Steady(_Strict):
    rates: dict[str, float] = Field(default_factory=dict)
    users: int = Field(default=10, ge=1, le=10000)
    late_after_ms: float = Field(default=10.0, ge=0)


class Scenarios(_Strict):
    repeated_logins: RepeatedLogins | None = None
    three_prospects: ThreeProspects | None = None
    demo_session: DemoSession | None = None
    steady: Steady | None = None


class CustomProfile(_Strict):
    name: str
    rtt_ms: float = Field(default=0, ge=0)
    jitter_ms: float = Field(default=0, ge=0)
    down_kbit: float | None = Field(default=None, gt=0)
    up_kbit: float | None = Field(default=None, gt=0)
    loss_pct: float = Field(default=0, ge=0, le=50)
    budget_ms: float | None = Field(default=None, gt=0)


class ProfileRef(_Strict):
    preset: str
    budget_ms: float | None = Field(default=None, gt=0)


class Run(_Strict):
    duration_s: float = Field(default=60, gt=0, le=24 * 3600)
    max_requests: int = Field(default=50_000, ge=1)
    warmup_s: float = Field(default=0, ge=0)
    spawn_rate: float = Field(default=50, gt=0)
    network_backend: Literal["proxy", "netem", "auto"] = "proxy"
    idle_probe_s: float = Field(default=0, ge=0)
    seed: int = 0


def _default_profiles() -> list[str | CustomProfile | ProfileRef]:
    return ["direct"]


class Plan(_Strict):
    version: Literal[1] = 1
    name: str = "rehearsal"
    target: Target
    login: Login | None = None
    budget_ms: float = Field(default=DEFAULT_BUDGET_MS, gt=0)
    endpoints: list[Endpoint] = Field(min_length=1)
    scenarios: Scenarios = Field(default_factory=Scenarios)
    run: Run = Field(default_factory=Run)
    profiles: list[str | CustomProfile | ProfileRef] = Field(default_factory=_default_profiles)
    mobile: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _references(self) -> Plan:
        names = [e.name for e in self.endpoints]
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                raise ValueError(f"@endpoints[{i}].name@ '{name}' is used twice; endpoint names must be unique")
            seen.add(name)
        known = set(names)
        sc = self.scenarios
        refs: list[tuple[str, str]] = []
        if sc.repeated_logins:
            refs += [("scenarios.repeated_logins.pages", p) for p in sc.repeated_logins.pages]
        if sc.three_prospects:
            refs.append(("scenarios.three_prospects.endpoint", sc.three_prospects.endpoint))
            if sc.three_prospects.bystander:
                refs.append(("scenarios.three_prospects.bystander", sc.three_prospects.bystander))
        if sc.demo_session:
            refs += [("scenarios.demo_session.steps", s) for s in sc.demo_session.steps]
            refs += [("scenarios.demo_session.weights", s) for s in sc.demo_session.weights]
        if sc.steady:
            refs += [("scenarios.steady.rates", s) for s in sc.steady.rates]
        for key, ref in refs:
            if ref not in known:
                raise ValueError(f"@{key}@ unknown endpoint '{ref}'; known endpoints: {', '.join(sorted(known))}")
        if sc.repeated_logins and self.login is None:
            raise ValueError("@login@ repeated_logins needs a 'login' section (path, username, password_env)")
        if not any((sc.repeated_logins, sc.three_prospects, sc.demo_session, sc.steady)):
            raise ValueError(
                "@scenarios@ choose at least one of repeated_logins, three_prospects, demo_session, steady"
            )
        return self

    def endpoint(self, name: str) -> Endpoint:
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(name)

    def budget_for(self, endpoint: Endpoint) -> float:
        return endpoint.budget_ms if endpoint.budget_ms is not None else self.budget_ms


@dataclass(frozen=True)
class Secrets:
    """Values read from the environment; never printed, never saved."""

    username: str | None
    password: str | None

    def redact(self, text: str) -> str:
        for secret in (self.password,):
            if secret:
                text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class LoadedPlan:
    plan: Plan
    path: str
    sha256: str
    secrets: Secrets


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def _hint(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    msg = str(error.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling (see scenarios/plans/demo.yaml for every key)"
    if kind == "missing":
        return "required key is missing; add it"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind.endswith(("_type", "_parsing")) or kind in ("literal_error", "greater_than", "less_than_equal"):
        msg += "; fix the value"
    return msg


def parse_plan(data: Any, path: str) -> Plan:
    """Validate an already-parsed mapping; raise PlanError with file and key path."""
    if not isinstance(data, dict):
        raise PlanError("the plan must be a YAML mapping (key: value), e.g. 'target: {base_url: ...}'", path=path)
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        skip = ("str", "CustomProfile", "ProfileRef")
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith(skip)))
        message = _hint(dict(first))
        key = _loc(loc)
        if message.startswith("@"):  # a cross-reference check names its own key
            inner, message = message[1:].split("@ ", 1)
            key = inner if key == "(top level)" else f"{key}.{inner}"
        raise PlanError(message, path=path, key=key) from exc


def resolve_secrets(plan: Plan, path: str, environ: dict[str, str] | None = None) -> Secrets:
    env = os.environ if environ is None else environ
    if plan.login is None:
        return Secrets(username=None, password=None)
    login = plan.login
    username = login.username
    if login.username_env:
        username = env.get(login.username_env)
        if not username:
            raise PlanError(
                f"environment variable {login.username_env} is not set; export it before running",
                path=path,
                key="login.username_env",
            )
    password = env.get(login.password_env)
    if not password:
        raise PlanError(
            f"environment variable {login.password_env} is not set; export it (the plan names it, never the value)",
            path=path,
            key="login.password_env",
        )
    return Secrets(username=username, password=password)


def load_plan(path: str | Path, environ: dict[str, str] | None = None, *, base_url: str | None = None) -> LoadedPlan:
    """Read, validate and resolve a plan file. ``base_url`` overrides ``target.base_url``."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise PlanError("file not found; pass the path of a plan YAML file", path=str(p)) from exc
    except OSError as exc:
        raise PlanError(f"cannot read the file ({exc.strerror})", path=str(p)) from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PlanError(f"{where}{problem}; fix the YAML syntax", path=str(p)) from exc
    if base_url is not None and isinstance(data, dict) and isinstance(data.get("target"), dict):
        data["target"]["base_url"] = base_url
    plan = parse_plan(data, str(p))
    secrets = resolve_secrets(plan, str(p), environ)
    return LoadedPlan(plan=plan, path=str(p), sha256=hashlib.sha256(raw).hexdigest(), secrets=secrets)
