# Two commands: `make demo` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: demo test install system lint typecheck pytest

install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv 2>/dev/null \
		|| python3 -m pip install --quiet --break-system-packages uv \
		|| { echo "uv is needed: apt-get install python3-pip (or see https://docs.astral.sh/uv/)"; exit 1; }
	@uv sync --frozen --quiet

demo: install
	uv run mcc demo

test: install system lint typecheck pytest

# The suite drives a real Chromium and a throwaway PostgreSQL: install Debian's packages where we can,
# otherwise stop with the one command that does.
SYSTEM_PACKAGES := $(if $(shell command -v chromium),,chromium) \
	$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql)
system:
	@if [ -n "$(strip $(SYSTEM_PACKAGES))" ]; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo -n"; \
		if command -v apt-get >/dev/null 2>&1 && { [ -z "$$sudo" ] || sudo -n true 2>/dev/null; }; then \
			$$sudo apt-get update -q && $$sudo apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES); \
		else \
			echo "make test needs $(strip $(SYSTEM_PACKAGES)): sudo apt-get install -y $(strip $(SYSTEM_PACKAGES))"; \
			exit 1; \
		fi; \
	fi

lint:
	uv run ruff check .
	uv run ruff format --check .

typecheck:
	uv run mypy

pytest:
	uv run pytest -n auto
