# videosupport: `make run` to run the server, `make test` to test it.

# Go from the PATH, or where a new machine has it.
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
# Tests that build binaries run go too.
export PATH := $(dir $(GO)):$(PATH)
BIN     := bin/videosupport
ARGS    ?=

.PHONY: run build test tools lint fuzz clean

run: build
	$(BIN) $(ARGS)

build:
	$(GO) build -o $(BIN) ./cmd/videosupport

# The whole suite, as CI runs it. Installs the outside tools the tests need
# (Chromium, ffmpeg, PostgreSQL, the versitygw S3 server) when they are missing.
test: tools lint
	$(GO) test -race -count=1 -timeout 15m ./...

tools:
	@sh .ci/install-tools

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Fuzz the parsers of outside input for a while each (FUZZTIME=30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./signaling -run '^$$' -fuzz FuzzParseClientMessage -fuzztime $(FUZZTIME)
	$(GO) test ./chat -run '^$$' -fuzz FuzzParseClientMessage -fuzztime $(FUZZTIME)
	$(GO) test ./webhook -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME)
	$(GO) test ./auth -run '^$$' -fuzz FuzzCheckLink -fuzztime $(FUZZTIME)
	$(GO) test ./blob -run '^$$' -fuzz FuzzOpenSealed -fuzztime $(FUZZTIME)
	$(GO) test ./blob -run '^$$' -fuzz FuzzUnwrapKey -fuzztime $(FUZZTIME)
	$(GO) test ./blob -run '^$$' -fuzz FuzzValidKey -fuzztime $(FUZZTIME)

clean:
	rm -rf bin

# The measurements of docs/benchmarks.md, not part of `make test` (about
# 15 minutes): the forwarding benchmarks, then the load tool's scenarios
# (1:1 calls, 1 to 80, ten rooms of 1 to 40, calls of 4 swept to the knee,
# admission control)
# with their same-run baselines. Reports, the sweep chart and a summary
# land in docs/bench. The server and relay run on CPU 1, the load tool on
# the others, at real-time priority where allowed (root), which the server
# and relay inherit, so that other work on the machine does not preempt
# them; otherwise at a raised priority where allowed.
.PHONY: bench
bench: build
	@mkdir -p docs/bench
	$(GO) test -run '^$$' -bench 'Forward' -benchtime 3000x -count 3 ./sfu > docs/bench/go-bench.txt
	@cat docs/bench/go-bench.txt
	$(GO) test -run '^$$' -bench 'RecordingCost' -benchtime 60000x -count 5 ./sfu > docs/bench/recording-cost.txt
	@cat docs/bench/recording-cost.txt
	$(GO) build -o bin/loadtest ./cmd/loadtest
	$(shell chrt -r 10 true 2>/dev/null && echo chrt -r 10 || echo nice -n -10) bin/loadtest bench -server $(BIN) -server-cpus 1 -out docs/bench
