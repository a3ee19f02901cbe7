# Two commands on a fresh machine:
#   make demo   runs the main job (a real triage of this Linux host) on the embedded default
#   make test   runs the whole test suite (installs what it needs, starts missing services)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo demo-web demo-web-down test test-quick bench lint-guides clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

# A triage that concludes (healthy, or escalate: it found something) did its job: exit 0.
demo: $(STAMP)
	@rc=0; $(VENV)/bin/mendflow run guides/sre/linux-host-triage.md --yes $(DEMO_ARGS) || rc=$$?; \
	case $$rc in \
	  0) echo "demo: the triage concluded: this host is healthy";; \
	  3) echo "demo: the triage concluded: it found problems (above); a person should look";; \
	  *) echo "demo: the triage did not conclude (exit $$rc)"; exit $$rc;; \
	esac

# A real incident: HTTP 5xx after a deploy, on a real Prometheus and PostgreSQL.
# SCENARIO=healthy or SCENARIO=upstream reach the guide's other conclusions.
demo-web: $(STAMP)
	bash scripts/ensure-system.sh
	$(PY) -m demo.web_incident up --scenario $(or $(SCENARIO),regression)
	-$(PY) -m demo.web_incident run

demo-web-down: $(STAMP)
	$(PY) -m demo.web_incident down

LINTED := engine plugins worker tests bench demo

# Lint first (ruff: pyflakes, pycodestyle, import order; well under a second), then type-check
# engine/, plugins/ and worker/ (mypy, configured in pyproject.toml), then the tests: two at a time (most
# of them wait on a server, a subprocess or a clock, so two processes halve the time on two
# cores; each test makes its own database, schema, queue and ports; an idle process takes
# work queued for the other, so one long test at the end does not hold the run), then, one at
# a time, those marked `alone` (they restart PostgreSQL or Redis under everyone, or load the
# whole machine).
test: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/mypy
	bash scripts/ensure-system.sh
	$(PY) -m pytest -q -n 2 --dist worksteal -m "not alone" $(PYTEST_ARGS)
	$(PY) -m pytest -q -m alone $(PYTEST_ARGS)

# The quick tier: the tests not marked slow, stopping at the first failure; `make test` (the
# README's command and CI) runs all of them.
test-quick: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint-guides: $(STAMP)
	$(VENV)/bin/mendflow lint guides

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
