# The two commands of the README: `make up` and `make test`. Everything they need is
# installed by scripts/bootstrap.sh (idempotent, downloads cached under .local/).
SHELL := /bin/bash
UV := .local/bootstrap/bin/uv
export UV_CACHE_DIR := $(CURDIR)/.local/cache/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
RUN := $(UV) run --frozen --no-sync
PY_SOURCES := libs services tests bench

.PHONY: up down status test lint typecheck unit bootstrap demo

bootstrap:
	@bash scripts/bootstrap.sh

up: bootstrap
	$(RUN) callstream up

down:
	$(RUN) callstream down

status:
	$(RUN) callstream stack status

demo:
	$(RUN) callstream demo

lint: bootstrap
	$(RUN) ruff check $(PY_SOURCES)
	$(RUN) ruff format --check $(PY_SOURCES)

typecheck: bootstrap
	$(RUN) mypy libs/common/src libs/cli/src services/ingest/src services/transcriber/src services/analyzer/src services/notifier/src services/compactor/src

test: lint typecheck
	$(RUN) pytest -p no:cacheprovider $(PYTEST_ARGS)

unit: bootstrap
	$(RUN) pytest tests/unit $(PYTEST_ARGS)
