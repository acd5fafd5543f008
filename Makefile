# Lomuz build, test and measurement entry points. Every target works on a fresh clone with Go installed;
# `make test` installs what the tests need (see scripts/test-deps.sh).
GO        ?= go
BIN       := bin/lomuz
PKGS      := ./...
# Total budget for the test run; the suite is meant to finish well under 20 minutes on 2 cores.
TEST_TIMEOUT ?= 25m
FUZZTIME  ?= 30s
export GOFLAGS := -buildvcs=false

.PHONY: all build demo test test-deps vet bench fuzz soak clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/lomuz

demo: build
	./$(BIN) demo

test-deps:
	./scripts/test-deps.sh

vet:
	$(GO) vet $(PKGS)

# Fuzz targets run their committed seed corpus as ordinary tests here.
test: test-deps vet
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

# Writes BENCHMARKS.md: the machine, the date, then each section from scripts/bench.d in order.
bench: build test-deps
	./scripts/bench.sh > BENCHMARKS.md.tmp && mv BENCHMARKS.md.tmp BENCHMARKS.md

# Runs every Fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# Long campaigns: each script in scripts/soak.d runs in turn.
soak: build test-deps
	@set -e; for s in scripts/soak.d/*.sh; do [ -e "$$s" ] || continue; echo "== $$s"; "$$s"; done

clean:
	rm -rf bin out
