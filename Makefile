# coordlab: see README.md. `make bench` and `make test` do all set-up themselves.
SHELL := /bin/bash
GO ?= go
BIN := bin
export TESTCONTAINERS_RYUK_DISABLED := true
export TESTCONTAINERS_HOST_OVERRIDE := 127.0.0.1
unexport TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX

.PHONY: all setup build test vet fuzz bench bench-raftkv bench-zab images soak clean

all: build

setup:
	@scripts/setup.sh

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum differ from what 'go mod tidy' writes: run go mod tidy and commit"; exit 1; }
	$(GO) vet ./...

# Fuzzing (scripts/fuzz.sh): every fuzz target, one at a time. make test
# runs each for FUZZTIME_TEST from its seeds and testdata; make fuzz runs
# each for FUZZTIME and keeps what it finds in go's fuzz cache. The fuzz
# runs start no binary; COORDLAB_BIN spares the TestMains that build one for
# process tests from building it in every fuzz worker.
FUZZTIME ?= 60s
FUZZTIME_TEST ?= 2s

test: setup build vet
	$(GO) test -race -timeout 30m ./...
	COORDLAB_BIN=$(CURDIR)/$(BIN) FUZZCORPUS=fresh GO=$(GO) scripts/fuzz.sh $(FUZZTIME_TEST)

fuzz: build
	COORDLAB_BIN=$(CURDIR)/$(BIN) GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

# coordlab bench builds the images it needs when the Docker engine runs,
# and falls back to the local runtime, saying so, when it does not.
# BENCH_FLAGS="--suite full" runs the thorough suite (216 runs, about three and a half hours, not measured end to end).
BENCH_FLAGS ?=
bench: setup build
	$(BIN)/coordlab bench --bin-dir $(BIN) $(BENCH_FLAGS)

# The engines' images from bin/, etcd's and ZooKeeper's from Debian's
# packages (which setup installs).
images: setup build
	$(BIN)/coordlab images --bin-dir $(BIN)

bench-raftkv: setup build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./engines/raftkv/bench/

bench-zab: setup build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./engines/zab/bench/

# Rounds of SIGKILL under write load on both engines, shared time bounded
# by SOAK_TIME (e.g. make soak SOAK_TIME=3m); exits non-zero on any lost
# acknowledged write, digest mismatch or checker failure (docs/SOAK.md).
SOAK_TIME ?= 15m
soak: build
	$(BIN)/coordlab soak --bin-dir $(BIN) --time $(SOAK_TIME)

clean:
	rm -rf $(BIN)
