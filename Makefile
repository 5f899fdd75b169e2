# Atelier des projets — the two commands a newcomer needs: `make run` and `make test`.
# Only Python 3.11+ and make are required; everything else goes into .venv/.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app atelier
HOST ?= 127.0.0.1
PORT ?= 5000
# make serve-prod: gunicorn processes, and threads in each (gthread workers).
WORKERS ?= 4
THREADS ?= 4

# The dependencies are declared once, in setup.cfg ([options] install_requires and
# [options.extras_require] test); this reads them from there.
define REQUIREMENTS_FROM_SETUP_CFG
import configparser, sys
config = configparser.ConfigParser()
config.read("setup.cfg")
lines = config["options"]["install_requires"].split("\n")
if "test" in sys.argv[1:]:
    lines += config["options.extras_require"]["test"].split("\n")
print("\n".join(line.strip() for line in lines if line.strip()))
endef
export REQUIREMENTS_FROM_SETUP_CFG

.PHONY: run test test-load install install-test db demo serve serve-prod clean

run: $(VENV)/.installed db demo  ## install, migrate, load the demo once, serve on http://127.0.0.1:5000
	@$(FLASK) demo-logins
	@echo
	@echo "Atelier des projets : http://$(HOST):$(PORT)  (Ctrl+C pour arrêter)"
	@# The webhooks' delivery loop runs beside the server and stops with it.
	@$(FLASK) deliver-webhooks & loop=$$!; \
	trap 'kill $$loop 2>/dev/null; wait $$loop 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test  ## install what the tests need and run the whole suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: setup.cfg | $(VENV)/bin/python
	$(BIN)/python -c "$$REQUIREMENTS_FROM_SETUP_CFG" > $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements.txt
	touch $@

$(VENV)/.installed-test: setup.cfg $(VENV)/.installed
	$(BIN)/python -c "$$REQUIREMENTS_FROM_SETUP_CFG" test > $(VENV)/requirements-test.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements-test.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

db: $(VENV)/.installed  ## create or upgrade the database (instance/atelier.sqlite3 by default)
	@$(FLASK) init-db

demo: $(VENV)/.installed  ## load the demo data and check its audit trail (does nothing the second time)
	@$(FLASK) seed-demo

serve: $(VENV)/.installed db  ## production-like: gunicorn and the webhooks' loop (set ATELIER_ENV_NAME=production and a secret)
	@$(FLASK) deliver-webhooks & loop=$$!; \
	trap 'kill $$loop 2>/dev/null; wait $$loop 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --config gunicorn.conf.py --workers 3 --bind $(HOST):$(PORT) wsgi:app

# Production: PostgreSQL only (SQLite takes one writer at a time), a secret key, the migrations applied,
# then gunicorn with WORKERS processes of THREADS threads, and the webhooks' loop beside it.
serve-prod: $(VENV)/.installed  ## production on PostgreSQL (ATELIER_DATABASE_URL, ATELIER_SECRET_KEY): gunicorn, WORKERS×THREADS
	@case "$$ATELIER_DATABASE_URL" in \
	    postgres://?*|postgresql://?*|postgresql+psycopg://?*) ;; \
	    *) echo "Démarrage refusé : ATELIER_DATABASE_URL doit désigner une base PostgreSQL," \
	            "par exemple postgresql://utilisateur:motdepasse@127.0.0.1:5432/atelier" \
	            "(SQLite ne convient pas à plusieurs processus en production)." >&2; exit 2;; \
	esac
	@if [ -z "$$ATELIER_SECRET_KEY" ]; then \
	    echo "Démarrage refusé : ATELIER_SECRET_KEY est obligatoire en production (une longue chaîne" \
	         "aléatoire gardée secrète, par exemple : python3 -c 'import secrets; print(secrets.token_hex(32))')." >&2; \
	    exit 2; \
	fi
	@ATELIER_ENV_NAME=production $(FLASK) init-db
	@# Emails are sent by their own loop, not inside the requests (a submit stays fast).
	@export ATELIER_ENV_NAME=production ATELIER_NOTIFICATIONS_SEND_AFTER_COMMIT=false; \
	$(FLASK) deliver-webhooks & loop=$$!; \
	$(FLASK) send-notifications --loop 10 & mails=$$!; \
	trap 'kill $$loop $$mails 2>/dev/null; wait $$loop $$mails 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --config gunicorn.conf.py --workers $(WORKERS) --threads $(THREADS) --worker-class gthread \
	    --bind $(HOST):$(PORT) --timeout 60 --graceful-timeout 20 --access-logfile - wsgi:app

# The load tests alone (PostgreSQL needed: ATELIER_TEST_DATABASE_URL), with their figures printed;
# they also run within `make test`. The table is written to instance/load-report.md.
test-load: $(VENV)/.installed-test  ## the load tests against make serve-prod (needs ATELIER_TEST_DATABASE_URL)
	$(BIN)/python -m pytest -m load -s -p no:cacheprovider tests/load $(PYTEST_ARGS)

.PHONY: bench screenshots

screenshots: $(VENV)/.installed-test  ## the PNGs of docs/screenshots (demo data, Debian's Chromium)
	$(BIN)/python docs/screenshots/take.py

bench: $(VENV)/.installed  ## time the portfolio export against a bare openpyxl loop (2 000 and 20 000 lines)
	$(BIN)/python benchmarks/portfolio_export.py

clean:
	rm -rf $(VENV) .pytest_cache
