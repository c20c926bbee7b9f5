# coordlab: see README.md. `make bench` and `make test` do all set-up themselves.
SHELL := /bin/bash
GO ?= go
BIN := bin
export TESTCONTAINERS_RYUK_DISABLED := true
export TESTCONTAINERS_HOST_OVERRIDE := 127.0.0.1
unexport TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX

.PHONY: all setup build test vet fuzz bench bench-raftkv bench-zab images clean

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
bench: setup build
	$(BIN)/coordlab bench --bin-dir $(BIN)

images: build
	$(BIN)/coordlab images --bin-dir $(BIN)

bench-raftkv: setup build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./engines/raftkv/bench/

bench-zab: setup build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./engines/zab/bench/

clean:
	rm -rf $(BIN)
