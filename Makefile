# provbus — the two commands a new user needs are `make run` and `make test`.

GO        ?= go
BIN       := bin/provbus
PKGS      := ./...
# The default test run: every package, bounded fault tests included.
TEST_TIMEOUT ?= 9m

.PHONY: run build test test-race test-faults test-integration bench fuzz fuzz-smoke lint generate check-generated deps clean

## run: start the whole pipeline on the embedded broker and registry (provbus dev)
run: build
	./$(BIN) dev

## build: build bin/provbus
build:
	$(GO) build -o $(BIN) ./cmd/provbus

## test: the default test suite (what CI runs)
test:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

## test-race: the default suite under the race detector
test-race:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## test-faults: the long fault and crash suite (test/)
test-faults:
	PROVBUS_LONG=1 $(GO) test -count=1 -timeout 60m -v ./test/...

## test-integration: the behaviour suite on the embedded cluster and on Redpanda in a container (skips without Docker)
test-integration:
	$(GO) test -count=1 -timeout 30m -v -run 'TestBehaviour' ./test/

## bench: the pipeline against bare baselines, one table, also written to BENCHMARKS.md (< 10 min)
bench:
	$(GO) build -o $(BIN) ./cmd/provbus
	./$(BIN) bench --write BENCHMARKS.md

## fuzz-smoke: run every fuzz target briefly (CI). A count, not a duration:
## Go 1.26's fuzz coordinator can fail a duration run with a bare "context
## deadline exceeded" at its end, no input at fault (golang/go#75804, fixed
## in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 50000x
fuzz-smoke:
	@for pkg in $$($(GO) list ./... ); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## generate: regenerate docs/catalog.md and schemas/avro/*.avsc
generate:
	$(GO) generate ./topology ./schemas

## deps: download the Go modules
deps:
	$(GO) mod download

clean:
	rm -rf bin .provbus
