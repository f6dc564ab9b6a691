"""Deterministic seed data for a small field-service company (random.Random(42))."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from .auth import hash_password
from .db import to_db_time, utc_now
from .options import DemoOptions

SEED_VERSION = 1

# (email, display name, role); the password comes from DemoOptions.password_env.
SEED_USERS: tuple[tuple[str, str, str], ...] = (
    ("founder@demo.example", "Frankie Founder", "owner"),
    ("sales@demo.example", "Sasha Sales", "sales"),
    *((f"prospect{n}@demo.example", f"Prospect {n}", "viewer") for n in range(1, 6)),
)


def _words(text: str) -> tuple[str, ...]:
    """Word lists are written "|"-separated so they stay compact."""
    return tuple(text.split("|"))


_NAME_HEADS = _words(
    "Northwind|Bluebird|Granite|Harbor|Maple|Summit|Riverside|Oakridge|Silverline|Redwood|Lakeshore"
    "|Ironbridge|Meadow|Copperfield|Westgate|Pinecrest|Stonebrook|Brightwater|Kingsley|Fairview"
)
_NAME_TAILS = _words(
    "Dental|Bakery|Logistics|Hotel|Property Group|Clinic|Fitness|Brewing|Offices|Storage|Schools"
    "|Apartments|Motors|Foods|Pharmacy"
)
_CITIES = _words("Leeds|Bristol|Lyon|Porto|Ghent|Utrecht|Bremen|Turin|Cork|Malmo")
_SEGMENTS = ("residential", "commercial", "industrial", "public")
_SERVICES = _words(
    "Boiler service|HVAC inspection|Leak repair|Electrical safety check|Fire alarm test|Heat pump install"
    "|Drain unblocking|Emergency callout|Annual maintenance visit|Air-con filter change"
    "|Water heater replacement|Lighting retrofit"
)
_SITES = _words("main building|warehouse|ground floor|kitchen|plant room|roof|basement|annex")
JOB_STATUSES = ("scheduled", "in_progress", "on_hold", "completed", "cancelled")
OPEN_JOB_STATUSES = ("scheduled", "in_progress", "on_hold")
_INVOICE_STATUSES = ("paid", "sent", "overdue", "void")


@dataclass(frozen=True)
class SeedReport:
    seeded: bool
    users: int
    clients: int
    jobs: int
    invoices: int


def _signature(options: DemoOptions) -> str:
    return json.dumps(
        {
            "version": SEED_VERSION,
            "clients": options.seed_clients,
            "jobs": options.seed_jobs,
            "invoices": options.seed_invoices,
        },
        sort_keys=True,
    )


def _at(day: datetime, rng: random.Random) -> str:
    return to_db_time(day.replace(hour=rng.randint(7, 17), minute=rng.choice((0, 15, 30, 45)), second=0))


def seed(conn: sqlite3.Connection, options: DemoOptions, password: str) -> SeedReport:
    """Fills an empty database; a database already seeded with the same sizes is left as is."""
    existing = conn.execute("SELECT value FROM meta WHERE key = 'seed'").fetchone()
    if existing is not None and existing["value"] == _signature(options):
        return SeedReport(False, *(_count(conn, t) for t in ("users", "clients", "jobs", "invoices")))

    rng = random.Random(42)
    now = utc_now()
    today = now.replace(hour=0, minute=0, second=0)

    users = [
        (i, email, name, role, hash_password(password), to_db_time(today))
        for i, (email, name, role) in enumerate(SEED_USERS, start=1)
    ]

    clients = []
    for cid in range(1, options.seed_clients + 1):
        name = f"{rng.choice(_NAME_HEADS)} {rng.choice(_NAME_TAILS)}"
        created = today - timedelta(days=rng.randint(400, 2000))
        clients.append((cid, f"CL{cid:05d}", name, rng.choice(_CITIES), rng.choice(_SEGMENTS), to_db_time(created)))
    # A few big accounts bring most of the work and revenue (Pareto-ish weights).
    client_weights = list(accumulate(1.0 / (rank**0.8) for rank in range(1, options.seed_clients + 1)))
    client_ids = list(range(1, options.seed_clients + 1))
    rng.shuffle(client_ids)

    jobs = []
    for jid in range(1, options.seed_jobs + 1):
        client_id = rng.choices(client_ids, cum_weights=client_weights)[0]
        offset_days = rng.randint(-365, 30)
        scheduled = today + timedelta(days=offset_days)
        if offset_days > 0:
            status = rng.choices(("scheduled", "on_hold", "cancelled"), weights=(85, 10, 5))[0]
        elif offset_days >= -3:
            status = rng.choices(("in_progress", "scheduled", "completed", "on_hold"), weights=(40, 20, 35, 5))[0]
        else:
            status = rng.choices(("completed", "cancelled", "on_hold"), weights=(90, 6, 4))[0]
        title = f"{rng.choice(_SERVICES)} - {rng.choice(_SITES)}"
        created = scheduled - timedelta(days=rng.randint(1, 21))
        jobs.append((jid, client_id, title, status, _at(scheduled, rng), _at(created, rng), rng.choice((1, 2)), None))

    invoices = []
    for iid in range(1, options.seed_invoices + 1):
        client_id = rng.choices(client_ids, cum_weights=client_weights)[0]
        issued = today - timedelta(days=rng.randint(0, 729))
        issued_text = _at(issued, rng)
        amount = int(rng.lognormvariate(10.5, 0.8))  # cents; median around 360 EUR
        status = rng.choices(_INVOICE_STATUSES, weights=(70, 15, 10, 5))[0]
        job_id = rng.randint(1, options.seed_jobs) if options.seed_jobs and rng.random() < 0.6 else None
        number = f"INV-{iid:06d}"
        billing_ref = f"CL{client_id:05d}/{issued_text[:7]}/{number}"
        invoices.append((iid, number, billing_ref, client_id, job_id, issued_text, amount, status))

    with conn:
        for table in ("sessions", "invoices", "jobs", "clients", "users", "meta"):
            conn.execute(f"DELETE FROM {table}")
        conn.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", users)
        conn.executemany("INSERT INTO clients VALUES (?, ?, ?, ?, ?, ?)", clients)
        conn.executemany("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", jobs)
        conn.executemany("INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?, ?, ?)", invoices)
        conn.execute("INSERT INTO meta (key, value) VALUES ('seed', ?)", (_signature(options),))
    conn.execute("ANALYZE")
    return SeedReport(True, len(users), len(clients), len(jobs), len(invoices))


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
