#!/usr/bin/env bash
# Installs iai-callgrind-runner at exactly the version the `iai-callgrind` library in this
# workspace expects (the callgrind bench refuses to run with any other version).
#
#   scripts/install-iai-runner.sh          # install if missing or a different version
#   IAI_RUNNER_VERSION=0.16.1 scripts/install-iai-runner.sh
#
# Valgrind itself must be installed separately (e.g. `apt-get install valgrind`).
set -euo pipefail

want="${IAI_RUNNER_VERSION:-0.16.1}"

have=""
if command -v iai-callgrind-runner >/dev/null 2>&1; then
    # `iai-callgrind-runner --version` prints e.g. "iai-callgrind-runner 0.16.1".
    have="$(iai-callgrind-runner --version 2>/dev/null | awk '{print $NF}' || true)"
fi

if [[ "$have" == "$want" ]]; then
    echo "iai-callgrind-runner $want is already installed: $(command -v iai-callgrind-runner)"
else
    if [[ -n "$have" ]]; then
        echo "iai-callgrind-runner $have found, $want needed: reinstalling"
    else
        echo "iai-callgrind-runner not found: installing $want"
    fi
    cargo install iai-callgrind-runner --version "$want" --locked --force
fi

if ! command -v valgrind >/dev/null 2>&1; then
    echo "warning: valgrind is not on PATH; the callgrind bench needs it" >&2
fi
