#!/usr/bin/env bash
# Installs what uring-relay needs on Debian/Ubuntu, skipping what is already there.
#   scripts/install-deps.sh           build and run (liburing-dev, pkg-config)
#   scripts/install-deps.sh --tests   also the peer programs the tests talk to
set -euo pipefail

packages=(liburing-dev pkg-config)
if [[ "${1:-}" == "--tests" ]]; then
    # Peers used by integration tests and by the comparison benchmarks (ffmpeg: the RTP peer).
    packages+=(python3 procps ffmpeg)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    echo "install-deps: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
