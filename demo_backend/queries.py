"""The SQL behind the API: indexed dashboard aggregates, job listing/creation, the slow revenue report."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from .db import to_db_time, utc_now
from .seed import OPEN_JOB_STATUSES

_JOB_COLUMNS = (
    "j.id, j.title, j.status, j.client_id, c.name AS client_name, j.scheduled_at, j.created_at,"
    " j.created_by, j.client_ref"
)


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0)


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def dashboard(conn: sqlite3.Connection) -> dict[str, object]:
    """Headline numbers; every query here is served by an index."""
    now = utc_now()
    week_start = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0)
    week_end = week_start + timedelta(days=7)
    month_start = _month_start(now)
    month_end = _next_month(month_start)
    placeholders = ", ".join("?" for _ in OPEN_JOB_STATUSES)
    by_status = {status: 0 for status in OPEN_JOB_STATUSES}
    for row in conn.execute(
        f"SELECT status, COUNT(*) AS n FROM jobs WHERE status IN ({placeholders}) GROUP BY status",
        OPEN_JOB_STATUSES,
    ):
        by_status[row["status"]] = row["n"]
    jobs_this_week = conn.execute(
        "SELECT COUNT(*) FROM jobs WHERE scheduled_at >= ? AND scheduled_at < ?",
        (to_db_time(week_start), to_db_time(week_end)),
    ).fetchone()[0]
    month_range = (to_db_time(month_start), to_db_time(month_end))
    revenue = conn.execute(
        "SELECT COALESCE(SUM(amount_cents), 0) FROM invoices"
        " WHERE issued_at >= ? AND issued_at < ? AND status != 'void'",
        month_range,
    ).fetchone()[0]
    top_clients = [
        {"id": row["id"], "name": row["name"], "revenue_cents": row["revenue_cents"]}
        for row in conn.execute(
            "SELECT c.id, c.name, SUM(i.amount_cents) AS revenue_cents"
            " FROM invoices i JOIN clients c ON c.id = i.client_id"
            " WHERE i.issued_at >= ? AND i.issued_at < ? AND i.status != 'void'"
            " GROUP BY c.id ORDER BY revenue_cents DESC, c.id LIMIT 5",
            month_range,
        )
    ]
    return {
        "open_jobs_by_status": by_status,
        "open_jobs_total": sum(by_status.values()),
        "jobs_this_week": jobs_this_week,
        "revenue_this_month_cents": revenue,
        "currency": "EUR",
        "top_clients": top_clients,
        "generated_at": to_db_time(now),
    }


def job_to_json(row: sqlite3.Row) -> dict[str, object]:
    return {key: row[key] for key in row.keys()}  # noqa: SIM118 - sqlite3.Row is not a mapping


def list_jobs(conn: sqlite3.Connection, page: int, per_page: int, client_ref: str | None) -> dict[str, object]:
    where, params = ("WHERE j.client_ref = ?", [client_ref]) if client_ref is not None else ("", [])
    total = conn.execute(f"SELECT COUNT(*) FROM jobs j {where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT {_JOB_COLUMNS} FROM jobs j JOIN clients c ON c.id = j.client_id {where}"
        " ORDER BY j.id DESC LIMIT ? OFFSET ?",
        [*params, per_page, (page - 1) * per_page],
    ).fetchall()
    return {
        "items": [job_to_json(row) for row in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": (total + per_page - 1) // per_page,
    }


def client_exists(conn: sqlite3.Connection, client_id: int) -> bool:
    return conn.execute("SELECT 1 FROM clients WHERE id = ?", (client_id,)).fetchone() is not None


def get_job(conn: sqlite3.Connection, job_id: int) -> dict[str, object] | None:
    row = conn.execute(
        f"SELECT {_JOB_COLUMNS} FROM jobs j JOIN clients c ON c.id = j.client_id WHERE j.id = ?", (job_id,)
    ).fetchone()
    return None if row is None else job_to_json(row)


def create_job(
    conn: sqlite3.Connection, title: str, client_id: int, client_ref: str | None, user_id: int
) -> dict[str, object]:
    now = utc_now()
    scheduled = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0)
    with conn:
        cursor = conn.execute(
            "INSERT INTO jobs (client_id, title, status, scheduled_at, created_at, created_by, client_ref)"
            " VALUES (?, ?, 'scheduled', ?, ?, ?, ?)",
            (client_id, title, to_db_time(scheduled), to_db_time(now), user_id, client_ref),
        )
    job = get_job(conn, int(cursor.lastrowid or 0))
    assert job is not None
    return job


def list_clients(conn: sqlite3.Connection, page: int, per_page: int) -> dict[str, object]:
    total = conn.execute("SELECT COUNT(*) FROM clients").fetchone()[0]
    rows = conn.execute(
        "SELECT id, code, name, city, segment FROM clients ORDER BY name, id LIMIT ? OFFSET ?",
        (per_page, (page - 1) * per_page),
    ).fetchall()
    return {
        "items": [{key: row[key] for key in row.keys()} for row in rows],  # noqa: SIM118
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": (total + per_page - 1) // per_page,
    }


# Invoices are matched to clients through the free-text billing reference ("CL00042/2024-05/INV-000123")
# and bucketed by a computed month: neither the LIKE join nor substr() can use an index, so SQLite
# scans the whole invoices table once per client. This is the honestly slow route.
REVENUE_SQL = """
SELECT c.id AS client_id, c.code AS client_code, c.name AS client_name,
       substr(i.issued_at, 1, 7) AS month,
       COUNT(*) AS invoices,
       SUM(i.amount_cents) AS revenue_cents
FROM clients c
JOIN invoices i ON i.billing_ref LIKE c.code || '/%'
WHERE i.status IN ('paid', 'sent', 'overdue')
  AND substr(i.issued_at, 1, 7) >= ?
GROUP BY c.id, month
ORDER BY c.id, month
"""


def revenue_report(conn: sqlite3.Connection, months: int = 12) -> dict[str, object]:
    start = _month_start(utc_now())
    for _ in range(months - 1):
        start = _month_start(start - timedelta(days=1))
    rows = conn.execute(REVENUE_SQL, (start.strftime("%Y-%m"),)).fetchall()
    per_month: dict[str, int] = {}
    for row in rows:
        per_month[row["month"]] = per_month.get(row["month"], 0) + row["revenue_cents"]
    return {
        "from_month": start.strftime("%Y-%m"),
        "currency": "EUR",
        "total_cents": sum(per_month.values()),
        "months": [{"month": m, "revenue_cents": per_month[m]} for m in sorted(per_month)],
        "rows": [{key: row[key] for key in row.keys()} for row in rows],  # noqa: SIM118
    }
