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
# make serve-prod counts the login attempts of all its processes in one Redis: the one named by
# ATELIER_RATELIMIT_STORAGE_URI, else a private one it starts (this program, on this loopback port;
# empty: a free one), stopped with the rest.
REDIS_SERVER ?= redis-server
REDIS_PORT ?=

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

# The links of the emails (the demo's too) lead to the address served, unless ATELIER_PUBLIC_URL names one.
run: export ATELIER_PUBLIC_URL ?= http://$(HOST):$(PORT)
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

# One gunicorn process (with threads): the login counters of the memory store are then exact; several
# processes need the shared store that make serve-prod starts.
serve: $(VENV)/.installed db  ## production-like: gunicorn (1 process × THREADS) and the webhooks' loop
	@$(FLASK) deliver-webhooks & loop=$$!; \
	trap 'kill $$loop 2>/dev/null; wait $$loop 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --config gunicorn.conf.py --workers 1 --threads $(THREADS) --worker-class gthread \
	    --bind $(HOST):$(PORT) wsgi:app

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
	@case "$$ATELIER_PUBLIC_URL" in \
	    http://?*|https://?*) ;; \
	    *) echo "Démarrage refusé : ATELIER_PUBLIC_URL est obligatoire en production : l'adresse du site" \
	            "telle qu'on l'ouvre, par exemple https://atelier.example.fr (les liens des courriels en" \
	            "dépendent, jamais de l'en-tête Host des requêtes)." >&2; exit 2;; \
	esac
	@if [ -z "$$ATELIER_RATELIMIT_STORAGE_URI" ] && ! command -v "$(REDIS_SERVER)" >/dev/null 2>&1; then \
	    echo "Démarrage refusé : les tentatives de connexion doivent être comptées en un seul endroit pour" \
	         "les $(WORKERS) processus. Installez Redis (apt-get install redis-server), que make serve-prod" \
	         "démarre alors lui-même, ou donnez l'adresse d'un serveur Redis dans" \
	         "ATELIER_RATELIMIT_STORAGE_URI (par exemple redis://127.0.0.1:6379/0)." >&2; \
	    exit 2; \
	fi
	@ATELIER_ENV_NAME=production $(FLASK) init-db
	@# Emails are sent by their own loop, not inside the requests (a submit stays fast).
	@export ATELIER_ENV_NAME=production ATELIER_NOTIFICATIONS_SEND_AFTER_COMMIT=false; \
	loop= mails= redis= redis_dir=; \
	trap 'kill $$loop $$mails $$redis 2>/dev/null; wait $$loop $$mails $$redis 2>/dev/null; \
	      [ -z "$$redis_dir" ] || rm -rf "$$redis_dir"' EXIT INT TERM; \
	if [ -z "$$ATELIER_RATELIMIT_STORAGE_URI" ]; then \
	    redis_dir="$$(mktemp -d "$${TMPDIR:-/tmp}/atelier-redis.XXXXXX")"; \
	    redis_port="$(REDIS_PORT)"; \
	    [ -n "$$redis_port" ] || redis_port="$$($(BIN)/python -c \
	        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"; \
	    redis_password="$$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"; \
	    printf 'bind 127.0.0.1\nport %s\nrequirepass %s\ndir %s\nsave ""\nappendonly no\nlogfile %s\n' \
	        "$$redis_port" "$$redis_password" "$$redis_dir" "$$redis_dir/redis.log" > "$$redis_dir/redis.conf"; \
	    "$(REDIS_SERVER)" "$$redis_dir/redis.conf" & redis=$$!; \
	    export ATELIER_RATELIMIT_STORAGE_URI="redis://:$$redis_password@127.0.0.1:$$redis_port/0?socket_timeout=2&socket_connect_timeout=2"; \
	    for _ in $$(seq 50); do \
	        $(BIN)/python -c 'import os, redis; redis.Redis.from_url(os.environ["ATELIER_RATELIMIT_STORAGE_URI"]).ping()' \
	            2>/dev/null && break; \
	        sleep 0.2; \
	    done; \
	    $(BIN)/python -c 'import os, redis; redis.Redis.from_url(os.environ["ATELIER_RATELIMIT_STORAGE_URI"]).ping()' \
	        2>/dev/null || { echo "Démarrage refusé : Redis ne répond pas sur 127.0.0.1:$$redis_port." >&2; \
	                         cat "$$redis_dir/redis.log" >&2; exit 2; }; \
	    echo "Redis démarré pour les compteurs de tentatives : 127.0.0.1:$$redis_port (dossier $$redis_dir)"; \
	fi; \
	$(FLASK) deliver-webhooks & loop=$$!; \
	$(FLASK) send-notifications --loop 10 & mails=$$!; \
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
