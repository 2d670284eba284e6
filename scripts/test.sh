#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration, both engines).
# Extra arguments go to `swift test` (e.g. --filter CLITests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
source scripts/swift-env.sh
swift build --build-tests
swift test --skip-build "$@"
