#!/usr/bin/env bash
# Installs what relay-bench's extras need on Debian/Ubuntu, skipping what is already there.
#   scripts/install-bench-tools.sh            perf, for relay-bench --syscalls
#   scripts/install-bench-tools.sh --peers    also haproxy, nginx (stream module), socat and
#                                             postfix, for Benchmarks/compare.sh
# Nothing is configured or left running: compare.sh starts each peer from its own temporary
# configuration and stops it again. nginx's and haproxy's packaged services are stopped and
# disabled if the install started them, so they do not hold ports or CPU during a benchmark.
set -euo pipefail

packages=(linux-perf)
if [[ "${1:-}" == "--peers" ]]; then
    packages+=(haproxy nginx libnginx-mod-stream socat postfix)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
((${#missing[@]})) || exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-bench-tools: installing ${missing[*]}" >&2
if [[ " ${missing[*]} " == *" postfix "* ]]; then
    # "No configuration": the programs without a mail system set up or started.
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
fi
$sudo apt-get update -qq
# policy-rc.d exit 101: the packages' services are not started by the install (no init here
# either, and a stock nginx on :80 is not wanted on a benchmark machine).
policy=/usr/sbin/policy-rc.d
created_policy=""
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
    $sudo chmod +x $policy
    created_policy=1
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ -n $created_policy ]]; then $sudo rm -f $policy; fi
