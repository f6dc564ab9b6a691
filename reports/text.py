"""Small text helpers shared by every report format: number formatting and defensive scrubbing."""

from __future__ import annotations

import re
from typing import Any

# Upstream already redacts secrets; this is a second net so a report never shows a token or password.
_KEYS = (
    r"password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token"
    r"|token|cookie|set-cookie|session(?:id)?"
)
_SECRET_KEY = re.compile(r"(?i)(" + _KEYS + r"|authorization|credential|private[_-]?key)")
_SCRUB_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Bearer abc" → "Authorization: [redacted]" (whole header value, scheme included)
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization\"?\s*[=:]\s*\"?)(?:(?:bearer|basic|token|digest)\s+)?"
            r"[^\s&\"',;})]+"
        ),
        r"\1[redacted]",
    ),
    # JSON-ish quoted values may hold spaces: "password": "two words"
    (re.compile(r"(?i)\b(" + _KEYS + r")(\"?\s*[=:]\s*\")(?!\[redacted\])[^\"]*"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{4,}"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b(" + _KEYS + r")(\"?\s*[=:]\s*)(?!\[redacted\])[^\s&\"',;})]+"), r"\1\2[redacted]"),
)


def scrub(text: str) -> str:
    """Replace anything that looks like a credential (``Bearer …``, ``password=…``) with ``[redacted]``."""
    for pattern, replacement in _SCRUB_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def is_secret_key(name: str) -> bool:
    """A settings/machine key whose value must never be shown (``password``, ``api_key``, ``token``…)."""
    return bool(_SECRET_KEY.search(name))


def redact_mapping(value: Any) -> Any:
    """A copy of nested dicts/lists with secret-looking keys' values replaced and strings scrubbed."""
    if isinstance(value, dict):
        return {
            k: "[redacted]" if is_secret_key(str(k)) and v not in (None, "") else redact_mapping(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_mapping(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def fmt_ms(value: float | None) -> str:
    """Milliseconds for people: ``0.42 ms``, ``4.2 ms``, ``1,240 ms``; ``—`` when unknown."""
    if value is None:
        return "—"
    if value < 1:
        return f"{value:.2f} ms"
    if value < 10:
        return f"{value:.1f} ms"
    return f"{value:,.0f} ms"


def fmt_num(value: float | None) -> str:
    """A bare millisecond figure for table cells (unit in the header)."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    if 0.95 <= value < 1.1:  # near the line, one decimal would print 1.0x for both 0.97 and 1.04
        return f"{value:.2f}\u00d7"
    return f"{value:.1f}\u00d7" if value < 10 else f"{value:,.0f}\u00d7"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """A share in 0…1 as a percentage; ``—`` when unknown."""
    if value is None:
        return "—"
    pct = value * 100
    if 0 < pct < 0.1:
        return "<0.1%"
    if 99.9 < pct < 100:
        return ">99.9%"
    return f"{pct:.{digits}f}%"


def fmt_bytes(value: float | None) -> str:
    if not value:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} MB"  # pragma: no cover - loop always returns


def fmt_seconds(value: float) -> str:
    if value < 60:
        return f"{value:.0f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"
