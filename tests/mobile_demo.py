"""The bundled demo app's locators, read from the bundled plan (one source of truth for tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.mobile.config import Locators

DEMO_PLAN = Path(__file__).resolve().parent.parent / "scenarios" / "plans" / "demo.yaml"
DEMO_MOBILE: dict[str, Any] = yaml.safe_load(DEMO_PLAN.read_text())["mobile"]
DEMO_WEB_LOCATORS = Locators.model_validate(DEMO_MOBILE["locators"]["chromium"])
