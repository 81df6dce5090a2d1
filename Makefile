# Polis — the two commands a newcomer needs are `make run` and `make test`.
# Both install whatever is missing first: Debian packages (as root, or say what to run),
# a virtualenv in .venv with the project and its tools, and the compiled translations.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.polis-installed
# Debian packages Polis needs at run time, in its tests or benchmarks (apache2-utils: ab, bench/web.py), checked one by one.
DEB_PACKAGES := softhsm2 fonts-dejavu-core fonts-noto-core chromium libpango-1.0-0 libpangoft2-1.0-0 openssl poppler-utils apache2-utils
PYTEST_ARGS ?=

.PHONY: run test lint format bench setup system-deps translations clean-venv help

help:
	@echo "make run    - start Polis (embedded PostgreSQL, file storage, demo municipality)"
	@echo "make test   - lint and run the whole test suite"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - run every benchmark in bench/ (JSON lines)"

run: setup
	$(VENV)/bin/polis run

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	@for script in bench/*.py; do echo "# $$script" >&2; $(PY) "$$script"; done

setup: system-deps $(STAMP) translations

system-deps:
	@missing=""; \
	if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null 2>&1; then \
	  missing="$$missing postgresql"; fi; \
	if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	for package in $(DEB_PACKAGES); do \
	  if ! dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "install ok installed"; then \
	    missing="$$missing $$package"; fi; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Polis needs these Debian/Ubuntu packages:$$missing"; \
	    echo "Install them with:  sudo apt-get install$$missing"; \
	    exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

translations: $(STAMP)
	@$(VENV)/bin/pybabel -q compile -d web/translations

clean-venv:
	rm -rf $(VENV)
