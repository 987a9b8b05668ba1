# truex-qf: every target installs what it needs first, so each works as the first command
# on a fresh clone. The quickfix compile (2 to 4 minutes on two free cores) happens once per machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo run-uat simulate bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml requirements/quickfix.txt scripts/install_quickfix.sh $(wildcard scripts/patches/*.patch)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "truex-qf needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	bash scripts/install_quickfix.sh $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# ruff, the import contracts (setup.cfg [importlinter]) and mypy (setup.cfg [mypy]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The main job on embedded defaults: a simulated TrueX exchange and the program against it.
demo: install
	$(BIN)/truex-qf demo $(DEMO_ARGS)

# Against TrueX UAT: credentials from the environment or a .env file (see README).
run-uat: install
	$(BIN)/truex-qf --env-file .env run $(RUN_ARGS)

simulate: install
	$(BIN)/truex-qf simulate $(SIM_ARGS)

# truex-qf against bare QuickFIX in the same run; BENCH_ARGS='--quick --json bench.json'
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) state build *.egg-info
