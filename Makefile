# Local development. A fresh machine needs only Python 3.11, make and git:
# the first target run creates .venv and installs the pinned set; later runs
# reinstall only when pyproject.toml or constraints.txt changed.

VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: dev test test-faults test-unit test-e2e chromium fuzz audit bench clean-var observe

$(VENV)/bin/python:
	@py=$$(command -v python3.11 || command -v python3 || true); \
	if [ -z "$$py" ] || ! "$$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		echo "xianjie needs Python 3.11 (python3.11 or python3 on PATH)" >&2; exit 1; \
	fi; \
	echo "creating $(VENV) with $$py"; "$$py" -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[test]'
	touch $@

## dev: start PostgreSQL, Temporal, the broker and every service in the foreground (Ctrl-C stops all)
dev: $(STAMP)
	$(VENV)/bin/xianjie dev

## test: the whole suite (it starts its own servers on free ports)
test: $(STAMP) chromium
	$(VENV)/bin/python -m pytest tests -q

## test-e2e: the browser tests only (Playwright driving Debian's Chromium; screenshots in tests/e2e/screenshots/)
test-e2e: $(STAMP) chromium
	$(VENV)/bin/python -m pytest tests/e2e -q

## chromium: Debian's chromium and a Chinese font for the browser tests, installed when run as root;
## otherwise it says why and the browser tests skip
CHROMIUM_PACKAGES := chromium fonts-wqy-microhei
chromium:
	@if [ -x "$${XIANJIE_CHROMIUM:-/usr/bin/chromium}" ]; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "no Chromium: the browser tests (tests/e2e) will be skipped; install it with: sudo apt-get install $(CHROMIUM_PACKAGES)" >&2; \
	else \
		echo "installing Debian's $(CHROMIUM_PACKAGES) for the browser tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends $(CHROMIUM_PACKAGES) >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(CHROMIUM_PACKAGES) >/dev/null; } || \
		echo "could not install chromium: the browser tests (tests/e2e) will be skipped" >&2; \
	fi

## test-faults: kill -9 the consumer, relay, broker, worker and Temporal under load; prints lost / duplicated / stuck
test-faults: $(STAMP)
	$(VENV)/bin/python -m pytest tests/faults -q -s

## test-unit: pure logic only, no servers
test-unit: $(STAMP)
	$(VENV)/bin/python -m pytest tests/unit -q

## fuzz: each atheris target for FUZZ_SECONDS (default 60); crashing inputs land in var/fuzz/crashes/
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= policy household_import national_export
fuzz: $(STAMP)
	@failed=""; for t in $(FUZZ_TARGETS); do \
		$(VENV)/bin/python tests/fuzz/run.py $$t --seconds $(FUZZ_SECONDS) || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in$$failed (inputs in var/fuzz/crashes/)" >&2; exit 1; fi

## audit: pip-audit of the installed packages (skipped with the reason printed when no vulnerability service answers)
audit: $(STAMP)
	$(VENV)/bin/python .ci/audit.py

## bench: every bench/*.py in turn (each prints one JSON object on its last line); figures gathered in bench/results.json
bench: $(STAMP)
	$(VENV)/bin/python bench/run_all.py $(BENCHES)

## observe: Prometheus (Debian's package) on $(OBSERVE_ADDR) scraping the `make dev` processes, with the alert rules
OBSERVE_ADDR ?= 127.0.0.1:9098
observe:
	@command -v prometheus >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus; \
		else echo "make observe needs Debian's prometheus package: sudo apt-get install prometheus" >&2; exit 1; fi; }
	@mkdir -p var/prometheus
	@echo "Prometheus on http://$(OBSERVE_ADDR) (targets: /targets, alerts: /alerts); dashboards: deploy/grafana/*.json"
	prometheus --config.file=deploy/prometheus/observe.yml --storage.tsdb.path=var/prometheus \
		--storage.tsdb.retention.time=7d --web.listen-address=$(OBSERVE_ADDR)

## clean-var: DESTROYS all local data (PostgreSQL, Temporal, logs under var/); the next `make dev` starts fresh
clean-var:
	rm -rf var
