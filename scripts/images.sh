#!/usr/bin/env bash
# images.sh builds the lab's FROM-scratch images, tagged by content hash and
# :latest, and prints name=tag lines: raftkv and zab from the static
# binaries in bin-dir (default bin/), etcd and zookeeper from Debian's
# packages installed on this machine (scripts/setup.sh installs them).
# Names choose images; none means all four. `coordlab images` does the work
# (go run, so the script works before `make build` has made bin/coordlab).
# Usage: scripts/images.sh [bin-dir [name...]]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin}
shift || true
exec go run ./cmd/coordlab images --bin-dir "$bin" "$@"
