# videosupport: `make run` to run the server, `make test` to test it.

GO      ?= go
BIN     := bin/videosupport
ARGS    ?=

.PHONY: run build test tools lint fuzz clean

run: build
	$(BIN) $(ARGS)

build:
	$(GO) build -o $(BIN) ./cmd/videosupport

# The whole suite, as CI runs it. Installs the outside tools the tests need
# (Chromium, ffmpeg) when they are missing.
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

clean:
	rm -rf bin
