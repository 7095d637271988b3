# The two commands of the README: `make up` and `make test`. Everything they need is
# installed by scripts/bootstrap.sh (idempotent, downloads cached under .local/).
SHELL := /bin/bash
UV := .local/bootstrap/bin/uv
export UV_CACHE_DIR := $(CURDIR)/.local/cache/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
RUN := $(UV) run --frozen --no-sync
PY_SOURCES := libs services tests bench eval

.PHONY: up down clean status test lint typecheck unit bootstrap demo bench-ingest bench-pipeline bench-remote bench-profile bench-kafka bench-compaction bench-transcription bench-analysis bench-read eval bench-metrics bench-long-call

bootstrap:
	@bash scripts/bootstrap.sh

up: bootstrap
	$(RUN) callstream up

down:
	$(RUN) callstream down

# Stop everything and delete the stack's data (its folder and its PostgreSQL folder).
clean:
	$(RUN) callstream down
	$(RUN) callstream stack clean

status:
	$(RUN) callstream stack status

demo:
	$(RUN) callstream demo

lint: bootstrap
	$(RUN) ruff check $(PY_SOURCES)
	$(RUN) ruff format --check $(PY_SOURCES)

typecheck: bootstrap
	$(RUN) mypy libs/common/src libs/cli/src services/ingest/src services/transcriber/src services/analyzer/src services/notifier/src services/compactor/src bench eval

test: lint typecheck
	$(RUN) pytest -p no:cacheprovider $(PYTEST_ARGS)

unit: bootstrap
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

# Benchmarks (not part of `make test`; each starts its own bench stack). BENCH_ARGS=--smoke|--keep
bench-ingest: bootstrap
	$(RUN) python -m bench.ingest $(BENCH_ARGS)

bench-pipeline: bootstrap
	$(RUN) python -m bench.pipeline $(BENCH_ARGS)

bench-remote: bootstrap
	$(RUN) python -m bench.remote $(BENCH_ARGS)

bench-profile: bootstrap
	$(RUN) python -m bench.stage_profile $(BENCH_ARGS)

bench-kafka: bootstrap
	$(RUN) python -m bench.kafka_hop $(BENCH_ARGS)

bench-compaction: bootstrap
	$(RUN) python -m bench.compaction $(BENCH_ARGS)

bench-transcription: bootstrap
	$(RUN) python -m bench.transcription $(BENCH_ARGS)

bench-analysis: bootstrap
	$(RUN) python -m bench.analysis $(BENCH_ARGS)

bench-metrics: bootstrap
	$(RUN) python -m bench.metrics $(BENCH_ARGS)

bench-read: bootstrap
	$(RUN) python -m bench.read_api $(BENCH_ARGS)

bench-long-call: bootstrap
	$(RUN) python -m bench.long_call $(BENCH_ARGS)

# Quality: WER of the built-in Whisper, per-dimension P/R/F1 and score MAE of the analyzers
eval: bootstrap
	$(RUN) python -m eval.run $(EVAL_ARGS)

