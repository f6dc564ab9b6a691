"""Password hashing (PBKDF2-SHA256, per-user salt) and bearer-token sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta

from .db import to_db_time, utc_now

PBKDF2_ITERATIONS = 100_000  # roughly 20-50 ms per hash on a current server core
SESSION_TTL = timedelta(hours=12)
_ALGORITHM = "pbkdf2_sha256"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role}


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{_ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algorithm, iterations_text, salt_hex, digest_hex = stored.split("$")
        iterations = int(iterations_text)
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    if algorithm != _ALGORITHM:
        return False
    actual = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return hmac.compare_digest(actual, expected)


# Verified against when the email is unknown, so both failure paths cost one hash.
_DUMMY_HASH = hash_password("not-a-real-password", salt=b"\x00" * 16)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _row_to_user(row: sqlite3.Row) -> User:
    return User(id=row["id"], email=row["email"], name=row["name"], role=row["role"])


def login(conn: sqlite3.Connection, email: str, password: str) -> tuple[str, User] | None:
    """Checks the credentials; on success stores a new session and returns (token, user)."""
    row = conn.execute(
        "SELECT id, email, name, role, password_hash FROM users WHERE email = ?",
        (email.strip().lower(),),
    ).fetchone()
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, row["password_hash"]):
        return None
    token = secrets.token_urlsafe(32)
    now = utc_now()
    with conn:
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (_token_hash(token), row["id"], to_db_time(now), to_db_time(now + SESSION_TTL)),
        )
    return token, _row_to_user(row)


def user_for_token(conn: sqlite3.Connection, token: str) -> User | None:
    row = conn.execute(
        "SELECT u.id, u.email, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ? AND s.expires_at > ?",
        (_token_hash(token), to_db_time(utc_now())),
    ).fetchone()
    return None if row is None else _row_to_user(row)


def logout(conn: sqlite3.Connection, token: str) -> None:
    with conn:
        conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
