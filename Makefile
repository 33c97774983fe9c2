# kpiflow: the first two targets are the README's first two commands.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench install system-deps skeleton contract clean

demo: $(STAMP)
	$(VENV)/bin/kpiflow demo

test: $(STAMP)
	$(PY) -m ruff check kpiflow tests scripts benchmarks
	$(PY) -m mypy --strict kpiflow
	$(PY) -m pytest -q

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,images]'
	touch $(STAMP)

install: $(STAMP)

# LibreOffice (for PDFs and the real-client tests), Debian's UNO bridge, and PostgreSQL (the tests
# start a throwaway server of their own from its binaries), and Chromium with its driver (the web page is
# opened in a real browser by the tests). Needs root.
system-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		libreoffice-writer-nogui libreoffice-calc-nogui python3-uno postgresql chromium chromium-driver

lint: $(STAMP)
	$(PY) -m ruff check kpiflow tests scripts benchmarks
	$(PY) -m mypy --strict kpiflow

bench: $(STAMP)
	$(PY) -m compileall -q kpiflow
	$(PY) benchmarks/run_all.py

contract: $(STAMP)
	$(PY) ../shared/tools/contract_check.py $(CURDIR)/$(VENV)/bin/kpiflow

# rebuild the shipped catalogue.xlsx and appendix_6b.docx (package and project root copies)
skeleton: $(STAMP)
	$(PY) scripts/make_skeleton.py

clean:
	rm -rf demo build *.egg-info .pytest_cache .mypy_cache .ruff_cache
