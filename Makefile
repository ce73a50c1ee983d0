# Two commands on a fresh Debian machine (as root): `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOTLINE := $(VENV)/bin/hotline
STAMP := $(VENV)/.installed

.PHONY: run test setup system-deps frontend lint typecheck clean sandbox-down

setup: system-deps $(STAMP) frontend

system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip >/dev/null
	@set -o pipefail; $(PY) -m pip install -q -e '.[dev]' 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	@touch $(STAMP)

frontend:
	@if [ -f package.json ]; then bash scripts/frontend.sh; fi

run: setup
	@$(HOTLINE) run

# Starts what the tests need, runs the whole suite, and always stops the sandbox Asterisk again.
test: setup
	@bash scripts/test-services.sh
	@source var/test.env && $(HOTLINE) sandbox up
	@source var/test.env && status=0; \
	  $(VENV)/bin/pytest $(PYTEST_ARGS) || status=$$?; \
	  $(HOTLINE) sandbox down >/dev/null; exit $$status

lint:
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

typecheck:
	@$(VENV)/bin/mypy acd/core acd/voice/core workorders/core scheduling/core knowledge/core reports/core supervision/core

sandbox-down:
	@$(HOTLINE) sandbox down

clean: sandbox-down
	rm -rf $(VENV) var/sandbox/root var/test.env
