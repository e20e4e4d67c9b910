# iso-assets: `make demo` builds the demo product's ISO end to end; `make test` runs the tests.
# Both install what they need (Debian packages as root, the venv) and can be run again.

PY := .venv/bin/python
DEMO_VERSION ?= 1.0.0

.PHONY: deps demo test lint ui bench clean

deps:
	@bash scripts/install-deps.sh

demo: deps
	$(PY) -m iso_assets.demo --version $(DEMO_VERSION)

test:
	@bash scripts/install-deps.sh --test
	bash scripts/run-tests.sh

lint: deps
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# The same Dagster home as `make demo`, so the demo's runs and partitions show up.
ui: deps
	mkdir -p .iso-assets/dagster
	env --default-signal=INT,TERM DAGSTER_HOME=$(CURDIR)/.iso-assets/dagster \
		.venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: deps
	.venv/bin/python -m bench.run

clean:
	rm -rf .iso-assets build
