#!/usr/bin/env bash
# The test command behind `make test`: lint, then the whole suite (unit + integration with
# the real tools). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy iso_assets resources sensors
exec .venv/bin/pytest -q -p no:cacheprovider --durations=15 "$@"
