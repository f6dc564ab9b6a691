#!/usr/bin/env bash
# Install what the mobile flows need, idempotently:
#   - Debian chromium + chromium-driver (same source package, so their versions match)
#   - the pinned Appium server and Chromium driver in .appium (npm ci from the lockfile)
# Safe to run on every CI build: each part is skipped when already in place.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
appium_home="${REHEARSE_APPIUM_HOME:-$repo/.appium}"

log() { printf 'setup_mobile: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# ---- Chromium ------------------------------------------------------------------------------------
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    log "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
else
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install chromium and chromedriver by hand"
    log "installing Debian chromium chromium-driver"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver
fi

# ---- Node.js (Appium 3 needs ^20.19 || ^22.12 || >=24) -------------------------------------------
command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20.19+ (Debian 12's nodejs is too old)"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm 10+"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old for Appium 3 (need 20.19+)"

# ---- Appium (npm ci when node_modules is missing or was installed from another lockfile) ----------
[ -f "$appium_home/package-lock.json" ] || die "$appium_home/package-lock.json is missing"
stamp="$appium_home/node_modules/.rehearse-lock.sha256"
want="$(sha256sum "$appium_home/package-lock.json" | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ -f "$appium_home/node_modules/appium/index.js" ] && [ "$want" = "$have" ]; then
    log "appium present in $appium_home (lockfile unchanged)"
else
    log "npm ci in $appium_home"
    # --ignore-scripts: appium's postinstall only auto-installs drivers for global installs
    (cd "$appium_home" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$want" >"$stamp"
fi

# ---- check that Appium sees the driver installed beside it ----------------------------------------
if ! APPIUM_HOME="$appium_home" node "$appium_home/node_modules/appium/index.js" driver list --installed \
        2>&1 | grep -q 'chromium@'; then
    die "Appium in $appium_home does not list the chromium driver"
fi
log "ready: APPIUM_HOME=$appium_home"
