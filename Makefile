# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fuzz bench screenshots messages clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m app.devrun

lint: $(STAMP)
	$(BIN)/ruff check app device tests bench migrations
	$(BIN)/ruff format --check app device tests bench migrations
	$(BIN)/lint-imports
	$(BIN)/mypy --allow-untyped-decorators app device  # strawberry.field(...) looks untyped to mypy

# A bounded, seeded fuzz of the permit verifier fails the build on any accepted mutant; it
# runs before pytest so pytest's summary stays the last line. `make fuzz` is the long run.
test: lint
	$(BIN)/python -m tests.protocol.fuzz_permits --runs 20000 --engine random
	$(BIN)/pytest

fuzz: $(STAMP)
	$(BIN)/python -m tests.protocol.fuzz_permits --runs 100000

bench: $(STAMP)
	$(BIN)/python bench/verify_permit.py
	$(BIN)/python bench/request_usage.py
	$(BIN)/python bench/access_tokens.py --live
	$(BIN)/python bench/cost_breakdown.py
	$(BIN)/python bench/abuse.py
	$(BIN)/python bench/rate_limit_abuse.py
	$(BIN)/python bench/link_abuse.py
	$(BIN)/python bench/login_abuse.py
	$(BIN)/python bench/data_scale.py
	$(BIN)/python bench/sweep_backlog.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/browser_pages.py
	$(BIN)/python bench/key_rotation.py
	$(BIN)/python bench/backup_live.py
	$(BIN)/python bench/observability_cost.py
	$(BIN)/python bench/outbox_cost.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/events_cross_process.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/fanout.py --processes 2 --subscribers 10000 --rounds 5

# The README's pictures, from the real-browser test (it saves every step in var/e2e-screenshots/).
SHOTS := var/e2e-screenshots
screenshots: $(STAMP)
	$(BIN)/pytest tests/e2e/test_driver_flow.py
	mkdir -p docs/screenshots
	cp $(SHOTS)/05-manager-queue.png docs/screenshots/manager-queue.png
	cp $(SHOTS)/07-driver-permit.png docs/screenshots/driver-permit.png
	cp $(SHOTS)/11-manager-usage.png docs/screenshots/usage-chart.png

# The pages' message catalog (app/ui/i18n.py): re-extract the English texts of app/ui into
# app/locale/messages.pot and merge them into each language's .po, to translate there.
# tests/ui/test_catalog.py fails while any text has no translation.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project PowerPermit \
		-o app/locale/messages.pot .
	$(BIN)/pybabel update -i app/locale/messages.pot -d app/locale --no-fuzzy-matching \
		--ignore-obsolete

clean:
	rm -rf $(VENV) var
