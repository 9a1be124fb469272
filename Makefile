# kubiya_exporter. `make demo` runs it against the simulator; `make test` tests it.
GO        ?= go
BIN       := kubiya_exporter
SIM       := kubiya-simulator
PKG       := github.com/prometheus/common/version
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo 0.1.0)
REVISION  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILDDATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
LDFLAGS   := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) \
             -X $(PKG).Branch=$(BRANCH) -X $(PKG).BuildUser=make -X $(PKG).BuildDate=$(BUILDDATE)
STATICCHECK_VERSION ?= v0.8.2
DOCKER_IMAGE ?= kubiya_exporter:$(VERSION)

.PHONY: all build test test-short demo lint docker clean dashboards

all: lint build test

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .
	CGO_ENABLED=0 $(GO) build -trimpath -o $(SIM) ./cmd/kubiya-simulator

# Everything: unit tests, golden files, the built binary, promtool/amtool
# checks (run when the binaries are installed; required when CI is set);
# then the Helm chart's tests, their own module (charts/tests: helm from
# $HELM or PATH, required when CI is set).
test:
	$(GO) test -race -count=1 ./...
	cd charts/tests && $(GO) test -count=1 ./...

test-short:
	$(GO) test -short ./...

demo: build
	./scripts/demo.sh

dashboards:
	$(GO) run ./dashboards/gen

lint:
	@fmt=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd charts/tests && $(GO) vet ./... && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	npx --yes dockerfile-utils@0.16.3 lint Dockerfile

# The image: the binary `make build` made, on DOCKER_BASE_IMAGE (see
# Dockerfile). DOCKER is docker, podman or buildah.
DOCKER            ?= docker
DOCKER_BASE_IMAGE ?= gcr.io/distroless/static-debian12:nonroot
docker: build
	$(DOCKER) build --build-arg BASE_IMAGE=$(DOCKER_BASE_IMAGE) --build-arg VERSION=$(VERSION) \
	  --build-arg REVISION=$(REVISION) --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) -t $(DOCKER_IMAGE) .

# README.md's table of the Helm chart's values, from values.yaml.
.PHONY: chart-values-table
chart-values-table:
	cd charts/tests && $(GO) test -count=1 -run '^TestValuesTable$$' . -update

# Release archives, named as promu names them, and their sha256 sums:
# .tarballs/kubiya_exporter-VERSION.OS-ARCH.tar.gz, .tarballs/sha256sums.txt.
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
.PHONY: crossbuild
crossbuild:
	@set -e; rm -rf .tarballs; mkdir -p .tarballs; \
	for p in $(PLATFORMS); do \
	  d=$(BIN)-$(VERSION).$${p%/*}-$${p#*/}; mkdir -p .tarballs/$$d; \
	  echo "build $$d"; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o .tarballs/$$d/$(BIN) .; \
	  cp README.md examples/kubiya.yml .tarballs/$$d/; \
	  tar -C .tarballs --owner=0 --group=0 --numeric-owner -cf - $$d | gzip -9n > .tarballs/$$d.tar.gz; \
	  rm -rf .tarballs/$$d; \
	done; \
	cd .tarballs && sha256sum *.tar.gz > sha256sums.txt && cat sha256sums.txt

clean:
	rm -f $(BIN) $(SIM)
	rm -rf .tarballs
	$(GO) clean -testcache

# Fuzz the job and job-list decoders, the timestamp parser, the config loader and the
# cron engine (against its oracle), each for FUZZTIME (seeds: */testdata/fuzz/).
# Minimizing is capped so a flaky-coverage input cannot stall a target past its time.
FUZZTIME ?= 30s
FUZZ_TARGETS := ./internal/kubiya:FuzzDecodeJob ./internal/kubiya:FuzzDecodeJobList ./internal/kubiya:FuzzParseTime ./config:FuzzParse ./internal/cron:FuzzSchedule
.PHONY: fuzz load
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t#*:} ($(FUZZTIME))"; \
	  $(GO) test $${t%%:*} -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s; \
	done

# The full load and leak test (make test runs a 5-second version): 50
# concurrent scrapes of 500 jobs for LOAD_DURATION; prints the figures.
LOAD_DURATION ?= 30s
load:
	KUBIYA_LOAD_DURATION=$(LOAD_DURATION) $(GO) test -count=1 -v -run '^TestLoadAndLeaks$$' ./internal/collector

# End-to-end test with the real simulator, exporter, Prometheus and
# Alertmanager (Debian's prometheus and prometheus-alertmanager packages),
# 2 to 3 minutes; see docs/e2e.md. `make test` runs it too.
.PHONY: e2e
e2e:
	$(GO) test -count=1 -v ./e2e/

# Benchmarks (BENCHMARKS.md): go test -bench for decode and collect per job,
# then the load harness: the real exporter against the real simulator on
# 127.0.0.1, N = 100, 1000, 10000 jobs, 50 ms API latency, per-job and list
# modes. About 5 minutes on 2 cores; the harness gives up after 10.
.PHONY: bench
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./internal/kubiya/ ./internal/collector/ .
	$(GO) run ./cmd/kubiya-bench --max-duration 10m --json .build/bench-results.json
	$(GO) run ./cmd/kubiya-bench --jobs 10000 --modes list --churn 0.05 --json .build/bench-churn-5.json
	$(GO) run ./cmd/kubiya-bench --jobs 10000 --modes list --churn 1 --json .build/bench-churn-100.json
