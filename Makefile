# Wharf: make help lists the targets.
SHELL := /bin/bash
GO ?= go
export WHARF_TOOLS_DIR ?= $(HOME)/.cache/wharf/bin
export PATH := $(WHARF_TOOLS_DIR):$(PATH)
# Build tags every go command needs: the Podman bindings the installer uses compile without cgo
# only with them (no gpgme, no btrfs or devicemapper graph drivers).
export GOFLAGS ?= -tags=containers_image_openpgp,remote,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= wharf-data
FUZZTIME ?= 20s

.PHONY: help build run deps ui-assets screenshots test test-short bench lint fuzz docs clean images vm-image test-vm

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

build: ui-assets ## build bin/wharf
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/wharf ./cmd/wharf

images: build ## build the wharf image archive bin/wharf-image.tar and Debian-built PostgreSQL and Redis images (cached in ~/.cache/wharf/images)
	$(GO) run ./images/cmd/mkimages -wharf bin/wharf -version $(VERSION) -o bin/wharf-image.tar

run: build ## start Wharf on its embedded default (SQLite and local disk in ./wharf-data, http://localhost:8080)
	./bin/wharf serve --data-dir $(DATA_DIR) --listen $(LISTEN)

deps: ## install what the tests need (Debian packages, MinIO, crane, oras, regctl, conformance suite)
	./scripts/deps.sh
	./scripts/ui-assets.sh

ui-assets: ## fetch the web UI's CSS from the npm registry into registry/ui/static/vendor (pinned in registry/ui/assets.lock)
	./scripts/ui-assets.sh

test: deps lint ## run every test: unit, backends (PostgreSQL, MinIO), conformance, real clients
	$(GO) test -count=1 -timeout 25m ./...

test-short: ui-assets ## run the tests that need no external tools
	$(GO) test -count=1 -short ./...

vm-image: ## build (or reuse) the Debian test VM image in ~/.cache/wharf/vm (needs root; minutes the first time)
	$(GO) run ./testvm/cmd/vmimage

test-vm: deps build vm-image ## boot the test VM under qemu: the harness's own test, then install, upgrade and uninstall in it
	WHARF_TEST_VM=1 $(GO) test -count=1 -v -timeout 60m ./testvm/

bench: deps build ## benchmark Wharf against the distribution registry, side by side; time the scanner on Debian 12 and the web UI's pages on 10,000 repositories
	$(GO) run ./bench/registrybench -wharf bin/wharf
	$(GO) run ./bench/scannerbench -wharf bin/wharf
	$(GO) run ./bench/uibench -wharf bin/wharf

lint: ## check formatting and vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fuzz: ## run each fuzz test for FUZZTIME
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

screenshots: ui-assets ## take the web UI's screenshots in docs/screenshots (headless chromium)
	mkdir -p docs/screenshots
	WHARF_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' ./test/ui/

docs: ## regenerate docs/config.md from the schema
	$(GO) run ./schema/docgen -o docs/config.md

clean: ## remove build output
	rm -rf bin
