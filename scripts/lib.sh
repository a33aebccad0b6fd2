# Shared settings for the project's scripts. Source it; do not run it.
# Build artefacts and tool installs live outside the clone so that fresh clones reuse them.
export AUTOMAGIK_TELEMETRY_CACHE="${AUTOMAGIK_TELEMETRY_CACHE:-$HOME/.cache/automagik-telemetry}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$AUTOMAGIK_TELEMETRY_CACHE/target}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

say() { printf '==> %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
