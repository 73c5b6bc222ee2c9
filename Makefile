.PHONY: install test lint typecheck bench fixtures

install:
	python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]'

test:
	. .venv/bin/activate && python -m pytest

lint:
	. .venv/bin/activate && ruff check src tests benchmarks fixtures && ruff format --check src tests

typecheck:
	. .venv/bin/activate && mypy

bench:
	. .venv/bin/activate && for b in benchmarks/bench_*.py; do echo "== $$b"; python $$b; done

fixtures:
	. .venv/bin/activate && python fixtures/build.py
