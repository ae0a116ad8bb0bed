# Developer shortcuts. CI runs .ci/run, not this file. `make` lists the targets.

POSTGRES_DSN ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
GOLANGCI_LINT ?= go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/onramp
	go build -o bin/onramp ./cmd/onramp

.PHONY: test
test: ## run every test (what CI runs: go test ./...)
	go test ./...

.PHONY: race
race: ## run every test with the race detector (slow; not in CI)
	go test -race ./...

.PHONY: test-postgres
test-postgres: ## run the store tests against PostgreSQL at POSTGRES_DSN
	ONRAMP_TEST_POSTGRES_DSN='$(POSTGRES_DSN)' go test ./store/...

.PHONY: lint
lint: ## gofmt, go vet and golangci-lint (.golangci.yml)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	$(GOLANGCI_LINT) run ./...

.PHONY: bench
bench: ## run the Go benchmarks (store and SCIM); see README for `onramp bench scim`
	go test -run '^$$' -bench . -benchmem ./store/... ./scim/...

.PHONY: bench-acs
bench-acs: ## SAML sign-in cost over gosaml2's bare validation (README: BenchmarkACS)
	go test ./jit -run '^$$' -bench ACS -benchtime 300x

.PHONY: golden
golden: ## rewrite golden files (-update) in every package that has them, then show the diff
	@for dir in $$(grep -rl --include='*_test.go' 'flag.Bool("update"' . | xargs -r -n1 dirname | sort -u); do \
		echo "go test $$dir -update"; go test $$dir -update || exit 1; \
	done
	git diff --stat -- '*testdata*'

.PHONY: ci
ci: ## run .ci/run locally
	bash .ci/run
