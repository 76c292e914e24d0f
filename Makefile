# casemail's developer entry points. The README's two commands are
# `make dev` and `make test`; both first install what is missing
# (deploy/scripts/install-deps.sh: Debian packages via apt-get).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# Go's official tarball installs here; it is not on every PATH.
export PATH := $(PATH):/usr/local/go/bin

GO       ?= go
CONFIG   ?= deploy/examples/casemail.yaml
# `make test RACE=` runs without the race detector.
RACE     ?= -race
FUZZTIME ?= 20s
# Go minimizes every new interesting input for up to 60 s by default, and
# counts none of that as fuzzing: a 20 s run then ran about 20 inputs.
FUZZMINIMIZE ?= 2s
# `make test PKGS=./store/...` limits vet and the tests to some packages.
PKGS     ?= ./...
# The conventional local server; used for the tests when it answers.
LOCAL_DB_URL := postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: all deps test vet unit fuzz dev build bench dist image image-context
# test runs its steps in order even under make -j.
.NOTPARALLEL:

all: build

deps:
	@bash deploy/scripts/install-deps.sh

## test: install what is missing, vet, run every test, fuzz the parser briefly.
test: deps vet unit fuzz

vet:
	$(GO) vet $(PKGS)

# TEST_DATABASE_URL: kept if set; else the local server if it answers;
# else unset, and store/storetest starts a throwaway cluster (pgtemp).
unit:
	@if [ -n "$${TEST_DATABASE_URL:-}" ]; then \
		echo "test database: TEST_DATABASE_URL from the environment"; \
	elif command -v psql >/dev/null 2>&1 && \
		PGCONNECT_TIMEOUT=3 psql -X -w -q -At -d '$(LOCAL_DB_URL)' -c 'select 1' >/dev/null 2>&1; then \
		export TEST_DATABASE_URL='$(LOCAL_DB_URL)'; \
		echo "test database: server at 127.0.0.1:5432"; \
	else \
		unset TEST_DATABASE_URL; \
		echo "test database: none answers at 127.0.0.1:5432; the tests start a throwaway PostgreSQL"; \
	fi; \
	echo "$(GO) test $(RACE) -count=1 $(PKGS)"; \
	$(GO) test $(RACE) -count=1 $(PKGS)

# Fuzzes the mail parser (intake/mailparse: the whole parse, Outlook's
# compressed RTF, and the header readers: addresses, parameters, encoded
# words); not when PKGS limits the run to other packages.
FUZZ_TARGETS := FuzzParse FuzzRTF FuzzHeaderFields
fuzz:
	@if [ '$(PKGS)' != './...' ]; then \
		echo "fuzz: skipped (PKGS=$(PKGS))"; \
	else \
		for t in $(FUZZ_TARGETS); do \
			echo "$(GO) test -run='^$$' -fuzz=\"^$$t\$$\" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) ./intake/mailparse"; \
			$(GO) test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) ./intake/mailparse || exit 1; \
		done; \
	fi

## dev: install what is missing, build bin/casemail, run it with its embedded
## mail world. Its ports: DEVFLAGS='-smtp 127.0.0.1:2525 -imap 127.0.0.1:1143 -http 127.0.0.1:8180'.
DEVFLAGS ?=
dev: deps build
	bin/casemail dev -config $(CONFIG) $(DEVFLAGS)

# The version `casemail --version` prints: the git tag or commit.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

## build: bin/casemail for this machine.
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/casemail ./cmd/casemail

bench:
	$(GO) test -run='^$$' -bench=. ./...

## dist: static linux binaries (ARCHS='amd64 arm64'), tarballs, Debian
## packages and SHA256SUMS in dist/ (deploy/package/dist.sh).
ARCHS ?= amd64 arm64
DIST  ?= dist
dist:
	VERSION='$(VERSION)' ARCHS='$(ARCHS)' DIST='$(DIST)' GO='$(GO)' bash deploy/package/dist.sh

## image: the container image localhost/casemail:$(VERSION) (deploy/container/
## Containerfile, FROM scratch: no registry pull). ENGINE=docker works too.
ENGINE     ?= podman
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
CA_FILE    ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_CONTEXT ?= bin/image
image-context:
	mkdir -p $(IMAGE_CONTEXT)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(IMAGE_CONTEXT)/casemail ./cmd/casemail
	cp $(CA_FILE) $(IMAGE_CONTEXT)/ca-certificates.crt

image: image-context
	$(ENGINE) build --platform linux/$(IMAGE_ARCH) -f deploy/container/Containerfile \
		-t localhost/casemail:$(VERSION) -t localhost/casemail:latest $(IMAGE_CONTEXT)
