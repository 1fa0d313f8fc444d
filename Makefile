# ShardLog — the two commands a newcomer needs are `make demo` and `make test`.
SWIFT ?= swift
# liblz4-dev and libsqlite3-dev are what the package links; lz4 (the command-line
# tool) is used by a test and by the benchmarks to check that payloads are standard LZ4.
DEB_PACKAGES := liblz4-dev libsqlite3-dev lz4

.PHONY: deps build demo test test-long docs bench bench-quick bench-compare bench-readme clean

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) test

# The guided tour (`shardlog demo`) on a new data directory, built in release mode.
# DEMO_ARGS passes options through, e.g. DEMO_ARGS="--personas 20 --data-dir /tmp/tour".
demo: deps
	$(SWIFT) build -c release --product shardlog
	.build/release/shardlog demo $(DEMO_ARGS)

# More seeds and crash rounds than CI runs; use before resolving an issue.
test-long: deps
	SHARDLOG_SEEDS=200 SHARDLOG_CRASH_ROUNDS=100 SHARDLOG_LEGACY_PERSONAS=1000 SHARDLOG_LEGACY_MEMORIES_PER_PERSONA=100 $(SWIFT) test

# The API documentation (Sources/ShardLog/ShardLog.docc and the doc comments); a warning fails it.
docs: deps
	$(SWIFT) package --disable-sandbox generate-documentation --target ShardLog --warnings-as-errors

bench: deps
	cd Benchmarks && $(SWIFT) run -c release log-figures --output results/log-figures.json && $(SWIFT) run -c release engine-figures --output results/engine-figures.json && $(SWIFT) run -c release workflow-figures --output results/workflow-figures.json
	$(MAKE) bench-compare

bench-quick: deps
	cd Benchmarks && $(SWIFT) run -c release log-figures --quick && $(SWIFT) run -c release engine-figures --quick && $(SWIFT) run -c release workflow-figures --quick && $(SWIFT) run -c release compare --quick --output /tmp/shardlog-compare-quick.json

# ShardLog side by side with SQLite (Specs/Benchmarks.md): results/compare.json and its charts.
bench-compare: deps
	cd Benchmarks && $(SWIFT) run -c release compare --output results/compare.json

# The performance section of Benchmarks/README.md, from the JSON of the last full run.
bench-readme: deps
	cd Benchmarks && $(SWIFT) run -c release compare --render results/compare.json --readme README.md

clean:
	rm -rf .build Benchmarks/.build
