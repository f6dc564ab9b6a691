"""The only module of ours that imports Locust (and so gevent's monkey-patching).

It turns the plan's scenarios into Locust user classes, feeds every request into the HDR ``Recorder`` from an
``events.request`` listener, and runs them headless with a local runner, or as a master / worker where worker
histograms travel to the master through ``report_to_master`` / ``worker_report``.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
from gevent.event import Event
from locust import FastHttpUser, User, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.event import Events
from locust.runners import MasterRunner, WorkerRunner

from harness.bodies import dig, fill_placeholders
from harness.errors import TargetError
from harness.phase import (
    DATA_KEY,
    DONE_MSG,
    FLUSH_MSG,
    FLUSHED_MSG,
    META_KEY,
    Phase,
    account_dropped,
    worker_mismatch,
)
from harness.plan import LoadedPlan, Plan
from harness.recorder import BurstRound, Recorder, timeline_bucket_s
from scenarios import (
    CallResult,
    DemoSessionScenario,
    OpenSchedule,
    RepeatedLoginsScenario,
    Scenario,
    SteadyScenario,
    ThreeProspectsScenario,
)

T = TypeVar("T")

_NO_CONTEXT: dict[str, Any] = {}


class _Session:
    def __init__(self, http: FastHttpSession) -> None:
        self.http = http
        self.token: str | None = None


def _events() -> Events:
    """A fresh event bus per phase: listeners never leak between phases."""
    return Events()  # type: ignore[no-untyped-call]


class LocustDriver:
    """The scenario ``Driver`` backed by Locust's FastHttpSession."""

    def __init__(self, user: FastHttpUser, lp: LoadedPlan, phase: Phase) -> None:
        self.user = user
        self.lp = lp
        self.plan: Plan = lp.plan
        self.phase = phase
        self.profile = phase.profile
        self.has_login = lp.plan.login is not None
        self._endpoints = {e.name: e for e in lp.plan.endpoints}
        self._rng = random.Random()
        self._plain_ctx: dict[str, dict[str, Any]] = {}

    def new_session(self) -> _Session:
        proxy = self.phase.proxy
        http = FastHttpSession(
            base_url=self.plan.target.base_url,
            request_event=self.user.environment.events.request,
            user=self.user,
            insecure=not self.plan.target.verify_tls,
            network_timeout=self.plan.target.timeout_s,
            connection_timeout=self.plan.target.timeout_s,
            max_retries=0,
            headers=dict(self.plan.target.headers) or None,
            proxy_host=proxy.host if proxy else None,
            proxy_port=proxy.port if proxy else None,
        )
        return _Session(http)

    def close_session(self, session: Any) -> None:
        # closing a pool that lost its socket is not a measurement
        with contextlib.suppress(Exception):
            session.http.client.clientpool.close()

    def _request(
        self,
        session: _Session,
        name: str,
        method: str,
        path: str,
        scenario: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        expect: list[int] | None = None,
        intended_wall: float | None = None,
        late: bool = False,
        want_body: bool = False,
    ) -> CallResult:
        if intended_wall is None and not late:
            # the common case: one context per scenario, reused (Locust copies it into each request's event)
            ctx = self._plain_ctx.get(scenario)
            if ctx is None:
                ctx = self._plain_ctx[scenario] = {"scenario": scenario, "profile": self.profile}
        else:
            ctx = {"scenario": scenario, "profile": self.profile, "intended": intended_wall, "late": late}
        start = time.time()
        if not expect and not want_body:
            # fast path (most requests): Locust judges the status and fires the request event itself
            t0 = time.perf_counter()
            resp = session.http.request(method, path, name=name, json=body, headers=headers, context=ctx)
            ms = (time.perf_counter() - t0) * 1000.0
            status = int(resp.status_code or 0)
            return CallResult(ok=200 <= status < 400, ms=ms, start_wall=start, status=status)
        with session.http.request(
            method, path, name=name, json=body, headers=headers, catch_response=True, context=ctx
        ) as cm:
            status = int(cm.status_code or 0)
            ok = (status in expect) if expect else (200 <= status < 400)
            parsed: Any = None
            if ok:
                if want_body:
                    try:
                        parsed = jsonlib.loads(cm.content) if cm.content else None
                    except ValueError:
                        parsed = None
                cm.success()
            else:
                err = getattr(cm, "error", None)
                cm.failure(f"HTTP {status}" if status else f"{type(err).__name__ if err else 'ConnectionError'}")
            ms = float(cm.request_meta.get("response_time") or 0.0)
            return CallResult(ok=ok, ms=ms, start_wall=start, status=status, body=parsed)

    def login(self, session: Any, scenario: str) -> CallResult:
        login = self.plan.login
        if login is None:
            return CallResult(ok=True, ms=0.0, start_wall=time.time())
        body = {
            login.username_field: self.lp.secrets.username,
            login.password_field: self.lp.secrets.password,
        }
        result = self._request(session, "login", login.method, login.path, scenario, body=body, want_body=True)
        if result.ok:
            token = dig(result.body, login.token_path)
            if isinstance(token, str) and token:
                session.token = token
            else:
                result.ok = False
        return result

    def call(
        self,
        session: Any,
        endpoint: str,
        scenario: str,
        *,
        intended_wall: float | None = None,
        late: bool = False,
    ) -> CallResult:
        ep = self._endpoints[endpoint]
        headers: dict[str, str] | None = None
        if ep.auth and self.plan.login is not None:
            if session.token is None and intended_wall is None:
                self.login(session, scenario)
            if session.token:
                login = self.plan.login
                value = f"{login.scheme} {session.token}" if login.scheme else session.token
                headers = {login.header: value}
        return self._request(
            session,
            ep.name,
            ep.method,
            ep.path,
            scenario,
            body=fill_placeholders(ep.json_body) if ep.json_body is not None else None,
            headers=headers,
            expect=ep.expect_status or None,
            intended_wall=intended_wall,
            late=late,
        )

    def together(self, calls: list[Callable[[], T]]) -> tuple[list[T], list[float]]:
        gate = Event()
        released: list[float] = [0.0] * len(calls)

        def run(i: int, fn: Callable[[], T]) -> T:
            gate.wait()
            released[i] = time.time()
            return fn()

        greenlets = [gevent.spawn(run, i, fn) for i, fn in enumerate(calls)]
        gevent.sleep(0)  # let every greenlet reach the gate before it opens
        gate.set()
        gevent.joinall(greenlets, raise_error=True)
        return [g.value for g in greenlets], released

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            gevent.sleep(seconds)

    def sleep_until(self, wall: float) -> None:
        delay = wall - time.time()
        if delay > 0:
            gevent.sleep(delay)

    def now(self) -> float:
        return time.time()

    def random(self) -> float:
        return self._rng.random()

    def note_burst(
        self,
        endpoint: str,
        latencies_ms: list[float],
        send_times: list[float],
        solo_ms: float | None,
        bystander_during_ms: float | None,
        bystander_outside_ms: float | None,
    ) -> None:
        rec: Recorder = self.user.environment.rehearse_recorder
        rec.add_burst(
            BurstRound(
                endpoint=endpoint,
                profile=self.profile,
                latencies_ms=latencies_ms,
                send_times=send_times,
                solo_ms=solo_ms,
                bystander_during_ms=bystander_during_ms,
                bystander_outside_ms=bystander_outside_ms,
            )
        )


def _scenario_users(lp: LoadedPlan, phase: Phase, worker_share: float = 1.0) -> list[type[User]]:
    """One Locust user class per selected scenario, each with a fixed number of users."""
    plan = lp.plan
    sc = plan.scenarios
    classes: list[type[User]] = []

    def make(name: str, count: int, factory: Callable[[], Scenario]) -> None:
        class ScenarioUser(FastHttpUser):
            host = plan.target.base_url
            fixed_count = count
            wait_time = staticmethod(lambda: 0)  # scenarios pace themselves

            def on_start(self) -> None:
                self.driver = LocustDriver(self, lp, phase)
                self.scenario = factory()
                self.scenario.on_start(self.driver)

            @task
            def step(self) -> None:
                self.scenario.iteration(self.driver)

            def on_stop(self) -> None:
                self.scenario.on_stop(self.driver)

        ScenarioUser.__name__ = f"{name}_user"
        classes.append(ScenarioUser)

    if sc.repeated_logins:
        rl = sc.repeated_logins
        make("repeated_logins", rl.users, lambda: RepeatedLoginsScenario(rl.pages, rl.think_time_s))
    if sc.three_prospects:
        tp = sc.three_prospects
        make(
            "three_prospects",
            1,
            lambda: ThreeProspectsScenario(
                tp.k, tp.endpoint, tp.bystander, tp.pause_s, tp.solo_every, needs_login=plan.login is not None
            ),
        )
    if sc.demo_session:
        ds = sc.demo_session
        make("demo_session", ds.users, lambda: DemoSessionScenario(ds.steps, ds.weights, ds.think_time_s))
    if sc.steady:
        st = sc.steady
        rates = {name: r * worker_share for name, r in st.rates.items()}
        now = time.time()
        schedule = OpenSchedule(rates, now, now + phase.duration_s)
        phase.schedule = schedule
        make("steady", st.users, lambda: _SteadyWithLogin(schedule, st.late_after_ms, phase.started))
    return classes


class _SteadyWithLogin(SteadyScenario):
    def on_start(self, driver: Any) -> None:
        super().on_start(driver)
        if driver.has_login and self.session is not None:
            driver.login(self.session, self.name)
        # the schedule starts when the first user is ready, so login time is not counted as lateness
        if self.schedule.issued and not any(self.schedule.issued.values()):
            self.schedule.restart(time.time())


def _only_our_listener(env: Environment) -> None:
    """Drop Locust's own per-request stats listener (added by its runner): the HDR recorder replaces it, so the
    load generator does not do the bookkeeping twice. Call after the runner exists."""
    ours = env.rehearse_listener  # type: ignore[attr-defined]
    for handler in list(env.events.request._handlers):
        if handler is not ours:
            env.events.request.remove_listener(handler)  # type: ignore[no-untyped-call]


def _attach_recorder(env: Environment, recorder: Recorder, on_sample: Callable[[], None] | None) -> None:
    env.rehearse_recorder = recorder  # type: ignore[attr-defined]

    def on_request(
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: BaseException | None = None,
        context: dict[str, Any] | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        ctx = context or _NO_CONTEXT
        kind = None
        example = ""
        if exception is not None:
            text = str(exception)
            code = getattr(exception, "code", None)  # Locust's bad-status error carries the HTTP status
            kind = text if text.startswith("HTTP ") else (f"HTTP {code}" if code else type(exception).__name__)
            if kind == "CatchResponseError":
                kind = text.split(":")[0][:60]
            example = text
        recorder.record(
            (ctx.get("scenario", ""), name, ctx.get("profile", "direct")),
            start_time if start_time is not None else time.time() - response_time / 1000.0,
            response_time or 0.0,
            ctx.get("intended"),
            kind,
            example,
            response_length or 0,
            ctx.get("late", False),
        )
        if on_sample is not None:
            on_sample()

    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    env.rehearse_listener = on_request  # type: ignore[attr-defined]


def _user_count(classes: list[type[User]]) -> int:
    return sum(c.fixed_count for c in classes)


def run_local(
    lp: LoadedPlan,
    phase: Phase,
    recorder: Recorder,
    tick: Callable[[float], None] | None = None,
    stop_flag: Callable[[], bool] | None = None,
) -> None:
    """Run one phase in this process. Stops at the duration, the request cap, or when stop_flag says so."""
    classes = _scenario_users(lp, phase)
    env = Environment(user_classes=classes, events=_events(), stop_timeout=5)
    capped = Event()

    def on_sample() -> None:
        if recorder.total >= phase.max_requests:
            capped.set()

    _attach_recorder(env, recorder, on_sample)
    runner = env.create_local_runner()
    _only_our_listener(env)
    t_start = time.time()
    try:
        runner.start(_user_count(classes), spawn_rate=lp.plan.run.spawn_rate)
        deadline = t_start + phase.duration_s
        while time.time() < deadline and not capped.is_set():
            if stop_flag is not None and stop_flag():
                break
            capped.wait(timeout=min(0.25, max(0.0, deadline - time.time())))
            if tick is not None:
                tick(time.time() - t_start)
    finally:
        runner.quit()
        account_dropped(phase, recorder, time.time())


def run_master(
    lp: LoadedPlan,
    phase: Phase,
    recorder: Recorder,
    expect_workers: int,
    bind_host: str = "127.0.0.1",
    bind_port: int = 0,
    on_bound: Callable[[int], None] | None = None,
    tick: Callable[[float], None] | None = None,
    worker_wait_s: float = 60.0,
    stop_flag: Callable[[], bool] | None = None,
    final: Callable[[], bool] | None = None,
) -> None:
    """Drive workers over Locust's master runner; merge their histograms exactly as they report.

    ``final()`` says, once the phase is over, that no phase follows: workers serving every phase then stop
    instead of waiting for one (a mismatched worker, Ctrl-C or the request cap end the run early).
    """
    classes = _scenario_users(lp, phase)
    env = Environment(user_classes=classes, events=_events(), stop_timeout=5)
    env.rehearse_recorder = recorder  # type: ignore[attr-defined]
    if bind_port == 0:
        import socket

        with socket.socket() as s:
            s.bind((bind_host, 0))
            bind_port = s.getsockname()[1]
    runner = env.create_master_runner(master_bind_host=bind_host, master_bind_port=bind_port)
    assert isinstance(runner, MasterRunner)
    flushed: set[str] = set()
    all_flushed = Event()

    mismatches: list[str] = []

    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        meta = data.get(META_KEY)
        if isinstance(meta, dict):
            problem = worker_mismatch(meta, lp, phase, expect_workers)
            if problem and not mismatches:
                mismatches.append(f"worker {client_id}: {problem}")
            for key in ("shaping", "notice"):
                if meta.get(key):
                    phase.seen.setdefault(key, set()).add(str(meta[key]))
        if DATA_KEY in data:
            recorder.merge(data[DATA_KEY])

    env.events.worker_report.add_listener(on_worker_report)  # type: ignore[no-untyped-call]

    def on_flushed(environment: Any, msg: Any, **_: Any) -> None:
        flushed.add(str(msg.node_id))
        if len(flushed) >= expect_workers:
            all_flushed.set()

    runner.register_message(FLUSHED_MSG, on_flushed)
    if on_bound is not None:
        on_bound(bind_port)
    waited = time.time()
    while runner.worker_count < expect_workers:
        if time.time() - waited > worker_wait_s:
            runner.quit()
            raise TargetError(f"only {runner.worker_count} of {expect_workers} Locust workers connected")
        gevent.sleep(0.1)
    t_start = time.time()
    try:
        runner.start(_user_count(classes), spawn_rate=lp.plan.run.spawn_rate)
        deadline = t_start + phase.duration_s
        while time.time() < deadline and recorder.total < phase.max_requests and not mismatches:
            if stop_flag is not None and stop_flag():
                break
            gevent.sleep(0.25)
            if tick is not None:
                tick(time.time() - t_start)
    finally:
        runner.stop()
        runner.send_message(FLUSH_MSG)
        all_flushed.wait(timeout=15)
        if mismatches or (final is not None and final()):
            runner.send_message(DONE_MSG)
        runner.quit()
    if mismatches:
        raise TargetError(mismatches[0])


def run_worker(
    lp: LoadedPlan, phase: Phase, master_host: str, master_port: int, workers: int = 1
) -> tuple[Recorder, bool]:
    """Serve a master: record locally, ship histograms through ``report_to_master``, flush on request.

    Returns the recorder and whether the master said no phase follows."""
    recorder = Recorder(t0=time.time(), warmup_s=lp.plan.run.warmup_s, bucket_s=timeline_bucket_s(phase.duration_s))
    classes = _scenario_users(lp, phase, worker_share=1.0 / max(1, workers))
    env = Environment(user_classes=classes, events=_events(), stop_timeout=5)
    _attach_recorder(env, recorder, None)
    runner = env.create_worker_runner(master_host, master_port)
    assert isinstance(runner, WorkerRunner)
    _only_our_listener(env)

    meta = {
        "plan_sha256": lp.sha256,
        "profile": phase.profile,
        "share": workers,
        "shaping": phase.shaping,
        "notice": phase.notice,
    }

    def on_report(client_id: str, data: dict[str, Any]) -> None:
        data[DATA_KEY] = recorder.export(reset=True)
        data[META_KEY] = meta

    env.events.report_to_master.add_listener(on_report)  # type: ignore[no-untyped-call]

    def on_flush(environment: Any, msg: Any, **_: Any) -> None:
        account_dropped(phase, recorder, time.time())
        runner._send_stats()  # fires report_to_master: everything not yet shipped goes now
        runner.send_message(FLUSHED_MSG)

    runner.register_message(FLUSH_MSG, on_flush)
    done: list[bool] = []
    runner.register_message(DONE_MSG, lambda *_a, **_k: done.append(True))
    try:
        runner.greenlet.join()
    except KeyboardInterrupt:
        # Ctrl-C on a worker: what it measured since its last report still reaches the master, then it leaves
        with contextlib.suppress(Exception):
            runner.stop()
            account_dropped(phase, recorder, time.time())
            runner._send_stats()
            env.events.quitting.fire(environment=env)  # type: ignore[no-untyped-call]
        raise
    return recorder, bool(done)
