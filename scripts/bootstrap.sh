#!/usr/bin/env bash
# Install everything callstream needs on a fresh Debian machine; idempotent and fast (< 5 s)
# when everything is already there, so `make` targets can call it every time.
#
#   1. Debian packages (PostgreSQL, Redis, audio tools, Chromium + chromedriver for the console's
#      browser tests, Java, Maven, ...), only those missing;
#      `apt-get update` runs only when something is missing.
#   2. .local/bootstrap: a venv holding a pinned `uv` (pip cache under .local/cache/pip).
#   3. `uv sync --all-packages --frozen` into .venv (uv cache under .local/cache/uv).
#
# Kafka's and Zipkin's jars are not fetched here: `callstream stack up` resolves them from
# Maven Central on first use and caches them under .local/cache.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

UV_VERSION="0.13.9"
BOOTSTRAP="$ROOT/.local/bootstrap"
export UV_CACHE_DIR="$ROOT/.local/cache/uv"
export UV_PYTHON_DOWNLOADS=never
export PIP_CACHE_DIR="$ROOT/.local/cache/pip"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# --- 1. Debian packages -------------------------------------------------------------------
packages=(python3 python3-venv postgresql redis-server espeak-ng sox libsox-fmt-all ffmpeg
          docker-compose chromium chromium-driver)
command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || packages+=(maven)

missing=()
installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)"
for pkg in "${packages[@]}"; do
    grep -qx "$pkg install ok installed" <<<"$installed" || missing+=("$pkg")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        log "missing Debian packages: ${missing[*]}"
        log "run as root (or with passwordless sudo) to install them"
        exit 1
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts the system-wide PostgreSQL and Redis services on install; the stack runs
    # its own instances on other ports, so the system ones are left as they are.
fi

# --- 2. uv in .local/bootstrap ------------------------------------------------------------
if [[ ! -x "$BOOTSTRAP/bin/uv" ]] || [[ "$("$BOOTSTRAP/bin/uv" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
    log "installing uv $UV_VERSION into .local/bootstrap"
    [[ -x "$BOOTSTRAP/bin/python" ]] || python3 -m venv "$BOOTSTRAP"
    "$BOOTSTRAP/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

# --- 3. the workspace's Python environment ------------------------------------------------
"$BOOTSTRAP/bin/uv" sync --all-packages --frozen --quiet
