# leafguard: two commands on a fresh Debian machine.
#   make demo   installs missing system packages, builds, runs the demo
#   make test   installs missing system packages, runs the whole test suite

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# C libraries leafguard wraps, tools its tests use as independent checks (bsdtar, sqlite3,
# python3 for a concurrent writer, python3-cryptography and zstd for docs/recover.py),
# and pkg-config to find the libraries.
APT_PACKAGES := pkg-config libsodium-dev libarchive-dev libsqlite3-dev libisal-dev libssl-dev \
                libzstd-dev libarchive-tools sqlite3 python3 python3-cryptography zstd
DEMO_DIR ?= demo

.PHONY: deps test-deps build release demo test fuzz bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# moto (an S3 server the S3 tests start on loopback, one per region) and boto3 (the
# independent client they compare with), for the python3 on PATH; eatmydata for the suite;
# prometheus for promtool, which checks the metrics file and the shipped alert rules.
test-deps: deps
	@for p in eatmydata prometheus; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	@python3 -c 'import moto.server, boto3' 2>/dev/null || python3 -m pip install --quiet 'moto[server]' boto3

# The suite's folders (deployments, regions, restores: about 1 GB at its peak) go on a
# tmpfs when /dev/shm has 4 GiB free (a container's 64 MiB one does not), and the suite
# runs under eatmydata: fsync and friends return at once. The crash tests kill processes,
# and a killed process loses no page it wrote (only a lost machine would), so no test's
# outcome depends on the disk or on fsync; the kernel's ext4 and journal work was two
# fifths of the suite's CPU time. The code paths are the same on any file system.
# `make test TEST_TMPDIR=/tmp NO_FSYNC=` runs it on disk with real fsync.
TEST_TMPDIR ?= $(shell [ -w /dev/shm ] && [ "$$(df -Pk /dev/shm | awk 'NR == 2 { print $$4 }')" -ge 4194304 ] 2>/dev/null && echo /dev/shm || echo $${TMPDIR:-/tmp})
NO_FSYNC ?= $(shell command -v eatmydata)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

demo: release
	.build/release/leafguard demo --dir $(DEMO_DIR)

test: test-deps
	python3 .ci/check-imports
	.ci/check-house-rules
	$(SWIFT) build --build-tests
	TMPDIR=$(TEST_TMPDIR) $(NO_FSYNC) $(SWIFT) test --skip-build

# libFuzzer over every decoder of outside bytes, FUZZ_SECONDS per target (docs/fuzzing.md).
FUZZ_SECONDS ?= 30
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) Fuzz/run.sh

# Side-by-side figures against restic and borg (installs them); see bench/README.md.
bench: release
	bench/backup-vs-restic.sh
	bench/audit-seal.sh
	bench/compliance-scan.sh
	bench/key-rotation.sh
	bench/reencrypt.sh

clean:
	rm -rf .build .build-fuzz $(DEMO_DIR)
