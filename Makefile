# seedlog: make test is what CI runs (.ci/run). Keep it under about 10 minutes on 2 cores.
GO      ?= go
SEEDS   ?= 1000
FUZZTIME ?= 1m

.PHONY: test test-plants sim bench fuzz lint dev build

build:
	$(GO) build ./...

test: lint
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -timeout 20m -tags simbugs -run 'Plant' ./core/... ./sim/... ./peerauth/...

sim:
	$(GO) run ./cmd/seedlog sim sweep --seeds $(SEEDS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

lint:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

dev:
	$(GO) run ./cmd/seedlog dev
