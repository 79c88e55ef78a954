# Local development. A fresh machine needs only Python 3.11, make and git:
# the first target run creates .venv and installs the pinned set; later runs
# reinstall only when pyproject.toml or constraints.txt changed.

VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: dev test test-faults test-unit fuzz audit bench clean-var observe

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
test: $(STAMP)
	$(VENV)/bin/python -m pytest tests -q

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
