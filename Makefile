# The two commands: `make run` and `make test`. Both bootstrap first (quiet when nothing is missing).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Every recipe line runs with the tools the bootstrap found or installed.
WITH_TOOLS := source ./.bootstrap.env &&
# Extra cargo flags for the wasm build (only set on the Debian fallback path: build-std).
LIB_ARGS = $${POSTURE_WASM_CARGO_ARGS:+--lib-cargo-args=$$POSTURE_WASM_CARGO_ARGS}

DATABASE_URL ?= sqlite://data/posture.db
export DATABASE_URL

.PHONY: help bootstrap build build-release run test lint test-rust test-e2e bench bench-ingest measure measure-incidents

help:
	@echo "make run    build a release, seed a demo database if empty, serve http://127.0.0.1:3000"
	@echo "make test   formatting, clippy, Rust tests and the Playwright suite"
	@echo "make bench  generate the large profile on SQLite and PostgreSQL and time the hot queries"
	@echo "make bench-ingest  appliance API events/s batched vs unbatched, p99 at 50%, memory under overload"
	@echo "make measure  release asset sizes, first page transfer, paint/hydration times, poll bytes"
	@echo "make measure-incidents  the incident list's frame times, memory and DOM size at 10K/100K/1M rows"

bootstrap:
	@scripts/bootstrap.sh

PKG := target/site/pkg

# Release assets are served precompressed (brotli -q 11, gzip -9); a dev build removes those
# copies so they can never shadow newer files.
build-release: bootstrap
	$(WITH_TOOLS) cargo leptos build --release $(LIB_ARGS)
	@for f in $(PKG)/*.wasm $(PKG)/*.js $(PKG)/*.css; do brotli -f -q 11 -k "$$f"; gzip -f -9 -k "$$f"; done

build: bootstrap
	$(WITH_TOOLS) cargo leptos build $(LIB_ARGS)
	@rm -f $(PKG)/*.br $(PKG)/*.gz

run: build-release
	@target/release/posture seed --if-empty
	@echo "Demo admin login: admin@posture.local / posture-demo"
	@exec target/release/posture serve

lint: bootstrap
	$(WITH_TOOLS) cargo fmt --all --check
	python3 scripts/check-module-cycles.py app/src server/src
	$(WITH_TOOLS) cargo clippy -p app -p server --all-targets --locked -- -D warnings
	$(WITH_TOOLS) cargo clippy -p frontend --target wasm32-unknown-unknown --locked \
		$${POSTURE_WASM_CARGO_ARGS:-} -- -D warnings

test-rust: bootstrap
	$(WITH_TOOLS) scripts/test-services.sh cargo test -p app -p server --locked

test-e2e: build
	$(WITH_TOOLS) cd end2end && playwright test

test: lint test-rust test-e2e

bench: build-release
	$(WITH_TOOLS) scripts/test-services.sh scripts/bench.sh

# Only the server binary: the API benchmark needs no WASM.
bench-ingest: bootstrap
	$(WITH_TOOLS) cargo build --release --locked -p server --bin posture
	$(WITH_TOOLS) scripts/test-services.sh scripts/bench-ingest.sh

measure: build-release
	$(WITH_TOOLS) scripts/measure-web.sh

measure-incidents: build-release
	$(WITH_TOOLS) scripts/measure-incidents.sh
