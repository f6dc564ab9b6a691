"""The Starlette application: API routes, /healthz, the mobile web app under /app/."""

from __future__ import annotations

import atexit
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import DemoBackend
from .options import DemoOptions
from .routes import API_ROUTES, ApiRoute, error
from .warmup import Warmup

STATIC_DIR = Path(__file__).parent / "static"


class ApiMiddleware:
    """For /api/*: runs the lazy first-request warm-up (in the threadpool) and sets Cache-Control."""

    def __init__(self, app: ASGIApp, warmup: Warmup) -> None:
        self.app = app
        self.warmup = warmup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if not self.warmup.done:
            await run_in_threadpool(self.warmup.ensure)

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_no_store)


def _endpoint(backend: DemoBackend, route: ApiRoute, lock: threading.Lock | None) -> Any:
    def call(request: Request, body: Any) -> Response:
        if lock is None:
            return route.handler(backend, request, body)
        with lock:  # a real process-wide lock: requests to this route queue one after another
            return route.handler(backend, request, body)

    async def endpoint(request: Request) -> Response:
        body: Any = None
        if route.reads_body:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return error(400, "request body must be valid JSON")
        return await run_in_threadpool(call, request, body)

    endpoint.__name__ = route.handler.__name__
    return endpoint


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def root(request: Request) -> Response:
    return RedirectResponse("/app/")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = error(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def create_app(options: DemoOptions) -> Starlette:
    """Creates and seeds the database now; the lifespan shutdown closes it (deleting a temporary one)."""
    api_paths = {route.path for route in API_ROUTES}
    if options.serialize_route is not None and options.serialize_route not in api_paths:
        raise ValueError(
            f"serialize_route {options.serialize_route!r} is not an API route; choose one of "
            + ", ".join(sorted(api_paths))
        )
    backend = DemoBackend(options)
    atexit.register(backend.close)  # in case the lifespan never runs (e.g. an in-process ASGI transport)

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"]), Route("/", root, methods=["GET"])]
    for api_route in API_ROUTES:
        lock = backend.route_lock if api_route.path == options.serialize_route else None
        routes.append(Route(api_route.path, _endpoint(backend, api_route, lock), methods=[api_route.method]))
    routes.append(Mount("/app", app=StaticFiles(directory=STATIC_DIR, html=True), name="app"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            backend.close()
            atexit.unregister(backend.close)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(ApiMiddleware, warmup=backend.warmup)],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.backend = backend
    return app
