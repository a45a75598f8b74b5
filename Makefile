# The two commands people need: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FLASK := $(VENV)/bin/flask --app wsgi
PORT ?= 5000
PO := $(wildcard portal/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test fuzz bench install install-dev translations extract migrate-check clean lint format format-check typecheck

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24"
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed $(MO)
install-dev: $(VENV)/.installed-dev $(MO)

portal/translations/%/LC_MESSAGES/messages.mo: portal/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile -f -i $< -o $@

## Embedded default: SQLite under instance/, simulated devices, console SMS.
run: install
	PORTAL_ENV=development $(FLASK) db upgrade
	PORTAL_ENV=development PORT=$(PORT) $(PY) -m portal.devserver

## The whole test suite (integration tests run when DATABASE_URL / MQTT_URL are set): spread over two workers
## per core (pytest-xdist; a third of the time a worker waits on Chromium, a server or a subprocess, so one per
## core left the cores half idle; worksteal hands a long test's neighbours to an idle worker), then the tests that assert
## wall-clock deadlines (marked serial) apart, so a busy neighbour cannot fail them. Bytecode is written even
## where PYTHONDONTWRITEBYTECODE is set: every worker would otherwise compile the portal and rewrite every test
## module again on each run.
## The serial run collects only the files that mark tests serial (collecting all of them took 2 s), and runs
## two at a time: they mostly wait on servers, browsers and bridges (tests/conftest.py's _serial_neighbours
## keeps a test marked alone by itself).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
SERIAL_FILES = $(shell grep -l "mark\.serial" tests/test_*.py)
test: install-dev
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not serial"
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -q -n 2 --dist worksteal -m serial $(SERIAL_FILES)

## The API fuzz's long hunt: FUZZ_EXAMPLES cases per strategy where `make test` tries 2 (CI runs both).
FUZZ_EXAMPLES ?= 20
fuzz: install-dev
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist worksteal tests/test_api_fuzz.py

bench: install-dev
	$(PY) bench/run_all.py

extract: $(VENV)/.installed
	$(PY) -m portal.translations.update

translations: $(MO)

## Ruff's rules (pyproject.toml) and its format, then mypy on the typed packages (portal/core, access_bridge).
lint: install-dev
	$(VENV)/bin/ruff check portal access_bridge tests bench
	$(VENV)/bin/ruff format --check portal access_bridge tests bench
	$(VENV)/bin/mypy portal/core access_bridge

## mypy on every package that carries type hints (config in pyproject.toml).
typecheck: install-dev
	$(VENV)/bin/mypy portal/core access_bridge

## Rewrite the code in one style (ruff format); format-check only reports what it would change.
format: install-dev
	$(VENV)/bin/ruff format portal access_bridge tests bench
format-check: install-dev
	$(VENV)/bin/ruff format --check portal access_bridge tests bench

## Models and migrations agree: upgrade an empty SQLite database, then ask Alembic whether autogenerate
## would write anything (`flask db check` fails if it would).
migrate-check: install
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	export DATABASE_URL="sqlite:///$$tmp/check.db" INSTANCE_PATH="$$tmp" PORTAL_ENV=development LOG_LEVEL=WARNING && \
	$(FLASK) db upgrade && $(FLASK) db check

clean:
	rm -rf $(VENV) instance .pytest_cache
