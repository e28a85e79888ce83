SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test test-fast lint clean bench soak vendor

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

.env:
	@echo "DJANGO_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "Wrote a new DJANGO_SECRET_KEY to .env"

run: $(VENV)/.installed .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	$(PY) manage.py seed_contacts --count 3000 --if-empty
	@echo
	@echo "Serving on http://127.0.0.1:$(PORT)  (admin: http://127.0.0.1:$(PORT)/admin/, user admin)"
	@echo "Log in and list:"
	@echo "  TOKEN=\$$(curl -s -X POST http://127.0.0.1:$(PORT)/api/auth/token -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"username\":\"admin\",\"password\":\"<password>\"}' | $(PYTHON) -c 'import sys,json; print(json.load(sys.stdin)[\"data\"][\"access\"])')"
	@echo "  curl -s -H \"Authorization: Bearer \$$TOKEN\" 'http://127.0.0.1:$(PORT)/api/contacts?page=1&page_size=5'"
	@echo "One export worker runs beside it, at a lower priority (its log: var/worker.log); Ctrl-C stops both."
	@echo
	@mkdir -p var
	trap 'kill $$worker 2>/dev/null' EXIT; \
	DJANGO_DEBUG=0 nice -n 10 $(VENV)/bin/celery -A boss_dp worker --beat --concurrency 1 \
		--loglevel INFO >> var/worker.log 2>&1 & worker=$$!; \
	PORT=$(PORT) DJANGO_DEBUG=0 $(VENV)/bin/gunicorn -c gunicorn.conf.py boss_dp.wsgi

# Tests that need Redis, PostgreSQL or Chromium skip without them, saying why; REQUIRE_SERVICES=1 makes
# that a failure (CI). What they need: README, "What the full suite needs".
test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	@echo "== the suite on SQLite =="
	env -u DATABASE_URL $(VENV)/bin/pytest
	@if [[ "$$DATABASE_URL" == postgres* ]]; then \
		echo "== the suite on PostgreSQL ($${DATABASE_URL%%@*}@...) =="; \
		$(VENV)/bin/pytest; \
	else \
		echo "DATABASE_URL names no PostgreSQL server: the PostgreSQL run is skipped."; \
	fi

# The edit-test loop: the suite on SQLite without the tests marked slow (gunicorn, load and fault tests,
# the browser); e.g. make test-fast TEST_ARGS="-k export -x".
test-fast: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	env -u DATABASE_URL $(VENV)/bin/pytest -m "not slow" $(TEST_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The benchmark of issue 4 (bench/README.md): a million contacts on SQLite and PostgreSQL, driven by wrk.
bench: $(VENV)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)

# Issue 4's load and fault tests alone (make test runs them too); e.g. SOAK_SECONDS=600 make soak.
soak: $(VENV)/.installed-test
	$(VENV)/bin/pytest -m load

# The browser libraries of the admin's dashboard, kept in the repository (served as static files: no CDN, and
# no npm needed to run or test the service). This rebuilds them from package.json and package-lock.json with npm:
# Chart.js's bundle without its source-map comment (the map is not kept, and collectstatic refuses a
# reference to a missing file), and the licences of Chart.js and of @kurkle/color, which the bundle includes.
VENDOR := contacts/static/contacts/vendor
vendor:
	npm ci --ignore-scripts --no-audit --no-fund
	mkdir -p $(VENDOR)
	sed '/^\/\/# sourceMappingURL=/d' node_modules/chart.js/dist/chart.umd.js > $(VENDOR)/chart.umd.js
	set -e; { echo "Chart.js $$(node -p 'require("./node_modules/chart.js/package.json").version')"; echo; \
	  cat node_modules/chart.js/LICENSE.md; echo; echo; \
	  echo "@kurkle/color $$(node -p 'require("./node_modules/@kurkle/color/package.json").version') (bundled in chart.umd.js)"; echo; \
	  cat node_modules/@kurkle/color/LICENSE.md; } > $(VENDOR)/chart.js.LICENSE.txt

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache node_modules
