#!/usr/bin/env bash
# images.sh builds the FROM-scratch images of our engines from static
# binaries and tags each with a content hash (of the binary and its
# Dockerfile) and with :latest for docker/compose.yaml. No registry is
# contacted: the legacy builder with FROM scratch pulls nothing.
# Usage: scripts/images.sh [bin-dir]   (default bin/); prints name=tag lines.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin}
if ! docker info >/dev/null 2>&1; then
	echo "images: the Docker engine is not reachable (docker info failed); start dockerd or run the local runtime instead" >&2
	exit 1
fi
for engine in raftkv zab; do
	if [ ! -x "$bin/$engine" ]; then
		echo "images: $bin/$engine is missing; run 'make build' first" >&2
		exit 1
	fi
	# FROM scratch has no dynamic loader: a binary that needs one exits with
	# "exec: no such file or directory" inside the container.
	if command -v readelf >/dev/null 2>&1 && readelf -l "$bin/$engine" 2>/dev/null | grep -q 'program interpreter'; then
		echo "images: $bin/$engine is dynamically linked; build it static (CGO_ENABLED=0, as 'make build' does)" >&2
		exit 1
	fi
	ctx=$(mktemp -d)
	trap 'rm -rf "$ctx"' EXIT
	cp "$bin/$engine" "$ctx/$engine"
	cp "docker/$engine.Dockerfile" "$ctx/Dockerfile"
	hash=$(cat "$ctx/$engine" "$ctx/Dockerfile" | sha256sum | cut -c1-12)
	tag="coordlab/$engine:$hash"
	if ! docker image inspect "$tag" >/dev/null 2>&1; then
		DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null 2>"$ctx/err" || { cat "$ctx/err" >&2; exit 1; }
	fi
	docker tag "$tag" "coordlab/$engine:latest"
	echo "$engine=$tag"
	rm -rf "$ctx"
	trap - EXIT
done
