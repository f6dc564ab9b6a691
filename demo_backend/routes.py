"""HTTP handlers. API handlers are plain functions run in the threadpool (see app.py), so a slow
query, the deliberate dashboard delay or the serialising lock really occupies a worker thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import auth, queries
from .context import DemoBackend

Handler = Callable[[DemoBackend, Request, Any], Response]

MAX_PER_PAGE = 100
MAX_TITLE = 200
MAX_CLIENT_REF = 100


@dataclass(frozen=True)
class ApiRoute:
    path: str
    method: str
    handler: Handler
    reads_body: bool = False


def error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _require_user(backend: DemoBackend, request: Request) -> auth.User:
    token = auth.bearer_token(request.headers.get("authorization"))
    user = None if token is None else auth.user_for_token(backend.db.connection(), token)
    if user is None:
        raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    return user


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}")
    return value


def _body_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HTTPException(400, "request body must be a JSON object")
    return body


def login(backend: DemoBackend, request: Request, body: Any) -> Response:
    data = _body_dict(body)
    email, password = data.get("email"), data.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        return error(400, "email and password are required strings")
    result = auth.login(backend.db.connection(), email, password)
    if result is None:
        return error(401, "invalid email or password")
    token, user = result
    return JSONResponse({"token": token, "token_type": "Bearer", "user": user.to_json()})


def logout(backend: DemoBackend, request: Request, body: Any) -> Response:
    _require_user(backend, request)
    token = auth.bearer_token(request.headers.get("authorization"))
    assert token is not None
    auth.logout(backend.db.connection(), token)
    return Response(status_code=204)


def me(backend: DemoBackend, request: Request, body: Any) -> Response:
    return JSONResponse({"user": _require_user(backend, request).to_json()})


def dashboard(backend: DemoBackend, request: Request, body: Any) -> Response:
    _require_user(backend, request)
    data = queries.dashboard(backend.db.connection())
    if backend.options.slow_dashboard_ms > 0:
        # Deliberate switch (used to breach a mobile latency budget); inside the route lock if one is set.
        time.sleep(backend.options.slow_dashboard_ms / 1000.0)
    return JSONResponse(data)


def list_jobs(backend: DemoBackend, request: Request, body: Any) -> Response:
    _require_user(backend, request)
    page = _int_param(request, "page", 1, 1, 1_000_000)
    per_page = _int_param(request, "per_page", 20, 1, MAX_PER_PAGE)
    client_ref = request.query_params.get("client_ref")
    return JSONResponse(queries.list_jobs(backend.db.connection(), page, per_page, client_ref))


def create_job(backend: DemoBackend, request: Request, body: Any) -> Response:
    user = _require_user(backend, request)
    data = _body_dict(body)
    title, client_id, client_ref = data.get("title"), data.get("client_id"), data.get("client_ref")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE:
        return error(422, f"title must be a non-empty string of at most {MAX_TITLE} characters")
    if not isinstance(client_id, int) or isinstance(client_id, bool):
        return error(422, "client_id must be an integer")
    if client_ref is not None and (
        not isinstance(client_ref, str) or not client_ref or len(client_ref) > MAX_CLIENT_REF
    ):
        return error(422, f"client_ref must be a non-empty string of at most {MAX_CLIENT_REF} characters")
    conn = backend.db.connection()
    if not queries.client_exists(conn, client_id):
        return error(422, f"unknown client_id {client_id}")
    # No de-duplication on client_ref: a client that retries creates a second row, visibly.
    job = queries.create_job(conn, title.strip(), client_id, client_ref, user.id)
    return JSONResponse(job, status_code=201, headers={"Location": f"/api/jobs/{job['id']}"})


def get_job(backend: DemoBackend, request: Request, body: Any) -> Response:
    _require_user(backend, request)
    job = queries.get_job(backend.db.connection(), int(request.path_params["job_id"]))
    return error(404, "job not found") if job is None else JSONResponse(job)


def list_clients(backend: DemoBackend, request: Request, body: Any) -> Response:
    _require_user(backend, request)
    page = _int_param(request, "page", 1, 1, 1_000_000)
    per_page = _int_param(request, "per_page", 20, 1, MAX_PER_PAGE)
    return JSONResponse(queries.list_clients(backend.db.connection(), page, per_page))


def revenue_report(backend: DemoBackend, request: Request, body: Any) -> Response:
    _require_user(backend, request)
    return JSONResponse(queries.revenue_report(backend.db.connection()))


API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("/api/auth/login", "POST", login, reads_body=True),
    ApiRoute("/api/auth/logout", "POST", logout),
    ApiRoute("/api/me", "GET", me),
    ApiRoute("/api/dashboard", "GET", dashboard),
    ApiRoute("/api/jobs", "GET", list_jobs),
    ApiRoute("/api/jobs", "POST", create_job, reads_body=True),
    ApiRoute("/api/jobs/{job_id:int}", "GET", get_job),
    ApiRoute("/api/clients", "GET", list_clients),
    ApiRoute("/api/reports/revenue", "GET", revenue_report),
)
