# Two commands: `make demo` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: demo test install lint typecheck pytest

install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv 2>/dev/null \
		|| python3 -m pip install --quiet --break-system-packages uv \
		|| { echo "uv is needed: apt-get install python3-pip (or see https://docs.astral.sh/uv/)"; exit 1; }
	@uv sync --frozen --quiet

demo: install
	uv run mcc demo

test: install lint typecheck pytest

lint:
	uv run ruff check .
	uv run ruff format --check .

typecheck:
	uv run mypy

pytest:
	uv run pytest
