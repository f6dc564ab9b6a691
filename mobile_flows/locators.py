"""Locator strings from the plan ("id:...", "xpath:...", "#css") turned into Appium (by, value) pairs.

Users map their own app in YAML, so a locator is one string with an optional prefix. Without a prefix it
means the platform's natural strategy: a CSS selector in a browser, a resource id on Android and an
accessibility id on iOS.
"""

from __future__ import annotations

from typing import Final, Literal

Platform = Literal["chromium", "android", "ios"]
Locator = tuple[str, str]

# The wire names of the strategies (as in appium's AppiumBy), spelled out so that validating a plan does
# not import the Appium client and Selenium.
CSS = "css selector"
XPATH = "xpath"
PREFIXES: Final[dict[str, str]] = {
    "css": CSS,
    "id": "id",
    "accessibility_id": "accessibility id",
    "xpath": XPATH,
    "class_name": "class name",
    "name": "name",
    "android_uiautomator": "-android uiautomator",
    "ios_predicate": "-ios predicate string",
    "ios_class_chain": "-ios class chain",
}

_DEFAULT: Final[dict[str, str]] = {
    "chromium": CSS,
    "android": PREFIXES["id"],
    "ios": PREFIXES["accessibility_id"],
}


def parse_locator(spec: str, platform: Platform) -> Locator:
    """Turn ``"xpath://a"`` into ``("xpath", "//a")``; an unknown prefix is part of the default selector.

    CSS selectors may contain colons (``a:hover``), so only the known prefixes above are split off.
    """
    text = spec.strip()
    if not text:
        raise ValueError("locator is empty")
    prefix, sep, rest = text.partition(":")
    if sep and prefix in PREFIXES:
        value = rest.strip()
        if not value:
            raise ValueError(f"locator {spec!r} has nothing after {prefix!r}")
        if platform == "chromium":
            return _web_locator(prefix, value, spec)
        return PREFIXES[prefix], value
    return _DEFAULT[platform], text


def _web_locator(prefix: str, value: str, spec: str) -> Locator:
    # Appium passes strategies through unchanged and the Chromium driver only knows CSS and XPath,
    # so the W3C-removed ones are rewritten here as Selenium itself does.
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    if prefix == "id":
        return CSS, f'[id="{quoted}"]'
    if prefix == "name":
        return CSS, f'[name="{quoted}"]'
    if prefix == "class_name":
        return CSS, f".{value}"
    if prefix in ("css", "xpath"):
        return PREFIXES[prefix], value
    raise ValueError(f"locator {spec!r}: {prefix!r} does not work in a browser (use css: or xpath:)")


def describe(locator: Locator) -> str:
    """A short human form for error messages: ``css '#login-screen'``."""
    by, value = locator
    return f"{by} {value!r}"
