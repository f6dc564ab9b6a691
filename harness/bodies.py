"""Request and response bodies as the plan describes them: placeholders to fill, token paths to follow."""

from __future__ import annotations

import uuid
from typing import Any


def dig(body: Any, path: str) -> Any:
    """Follow a dotted path (``data.token``, ``items.0.id``) into parsed JSON; None where it leads nowhere."""
    for part in path.split("."):
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return None
    return body


def fill_placeholders(value: Any) -> Any:
    """``{uuid}`` in any string of a request body becomes a fresh id, so every write has its own key."""
    if isinstance(value, str):
        return value.replace("{uuid}", uuid.uuid4().hex)
    if isinstance(value, dict):
        return {k: fill_placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_placeholders(v) for v in value]
    return value
