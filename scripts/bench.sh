#!/usr/bin/env bash
# Installs what is missing, builds release binaries, and runs relay-bench's quick suite:
# every scenario with both engines side by side. Extra arguments go to relay-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/swift-env.sh
swift build -c release
if (($#)); then
    exec .build/release/relay-bench "$@"
fi
exec .build/release/relay-bench all --quick
