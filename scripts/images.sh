#!/usr/bin/env bash
# images.sh builds the FROM-scratch images of our engines from the static
# binaries in bin-dir (default bin/), tagged by content hash and :latest,
# and prints name=tag lines: `coordlab images` does the work (go run, so the
# script works before `make build` has made bin/coordlab).
# Usage: scripts/images.sh [bin-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./cmd/coordlab images --bin-dir "${1:-bin}"
