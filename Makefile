# Set-up and everyday commands. `make serve` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Pinned so a fresh set-up never resolves to an unexpected newest build. spandrel
# (upscalers) needs torchvision, so torch and torchvision are pinned as a matching
# pair: on a CUDA machine pip fetches this pair's CUDA wheels from PyPI; on the CI
# machine the same pins resolve to wheels kept on its disk.
TORCH  ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install browser serve worker test docs docs-serve lint typecheck check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev,s3,docs]" $(TORCH)
	touch $@

serve: install
	$(BIN)/sfumato serve

worker: install
	$(BIN)/sfumato worker

# The studio's browser tests drive Debian's chromium (never a browser Playwright downloads):
# installed here when it is missing and apt-get may run (as root, or with password-less sudo).
# Otherwise those tests are skipped, saying why; with CI set they fail instead.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
		else sudo=none; fi; \
		if [ "$$sudo" = none ]; then \
			echo "chromium is missing and apt-get cannot run here: the studio's browser tests will be skipped"; \
		else \
			$$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends chromium; \
		fi; \
	fi

# The TypeScript SDK and studio tests install their npm packages (`npm ci`) when they are missing.
test: install browser
	$(BIN)/python -m pytest -q

# The documentation site (MkDocs + Material) into site/; warnings (a broken link, a missing
# page or snippet) fail it. Its reference pages are generated from the code as it builds.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

lint: install
	$(BIN)/ruff check src tests docs/_hooks
	$(BIN)/ruff format --check src tests docs/_hooks

typecheck: install
	$(BIN)/mypy src/sfumato

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
