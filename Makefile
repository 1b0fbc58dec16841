# The README's commands. Every target builds its own virtual environment in .venv.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run test bench lint format messages vendor services clean

help:
	@echo "make run    start the application on http://$(HOST):$(PORT) with demo data"
	@echo "make test   run the whole test suite"
	@echo "make bench  run the benchmarks"
	@echo "make lint   ruff check and format check"

# Python 3.12 or newer that actually runs: pyenv shims fail unless a version is selected.
PYTHON_BIN := $(shell bin/find-python)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON_BIN)" ]; then \
		echo "No working Python 3.12 or newer found. Install python3.12 (or 3.13) and try again." >&2; \
		exit 1; fi
	@echo "Creating $(VENV) with $(PYTHON_BIN)"
	@rm -rf $(VENV)
	@$(PYTHON_BIN) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@# The project is an application, not a package: install the pinned dependencies only.
	@$(PY) bin/requirements > $(VENV)/requirements.txt
	@$(PY) -m pip install --quiet -r $(VENV)/requirements.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@$(PY) -c "import django, allauth, celery" || { echo "Installing the dependencies failed." >&2; exit 1; }
	@touch $(STAMP)

# gettext turns the Dutch catalogue into the .mo file Django reads.
locale/nl/LC_MESSAGES/django.mo: locale/nl/LC_MESSAGES/django.po $(STAMP)
	@bin/need-debian-package msgfmt gettext
	@if command -v msgfmt >/dev/null; then $(PY) manage.py compilemessages --ignore=.venv -v 0; \
	else echo "Without gettext the interface shows English text." >&2; fi

messages: $(STAMP)
	$(PY) manage.py makemessages -l nl --ignore=.venv --ignore=var --no-obsolete --no-location

run: $(STAMP) locale/nl/LC_MESSAGES/django.mo
	@mkdir -p var
	@$(PY) manage.py migrate --no-input -v 0
	@$(PY) manage.py seed_demo
	@echo "Serving http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	@DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP) locale/nl/LC_MESSAGES/django.mo
	@bin/need-debian-package chromium chromium
	@bin/need-debian-package wrk wrk
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP) locale/nl/LC_MESSAGES/django.mo
	$(PY) bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Refresh the vendored NL Design System CSS from npm at the version pinned in package.json.
vendor:
	npm install --no-audit --no-fund
	cp node_modules/@utrecht/component-library-css/dist/index.css static/vendor/utrecht/index.css
	cp node_modules/@utrecht/component-library-css/LICENSE.md static/vendor/utrecht/LICENSE.md

clean:
	rm -rf $(VENV) var
