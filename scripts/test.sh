#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration, both engines).
# Extra arguments go to `swift test` (e.g. --filter CLITests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
source scripts/swift-env.sh
swift build --build-tests
# One test at a time: several integration tests check that the process's fd count is the same
# before and after, which only means something when no other test opens fds meanwhile.
swift test --skip-build --no-parallel "$@"
