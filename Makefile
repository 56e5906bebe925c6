# Two commands on a fresh machine:  `make lab`  (open the notebooks)  and  `make test`.
# Each creates .venv if missing and installs the project into it at the tested versions of constraints.txt
# (re-installs when pyproject.toml or constraints.txt changes).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Threads: tiny models are fastest with few threads on 2 shared cores (see ENVIRONMENT notes).
export OMP_NUM_THREADS ?= 2
export HF_HUB_OFFLINE ?= 1

.PHONY: lab test test-browser notebooks world clean
BROWSER_STAMP := $(VENV)/.installed-browser

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# JupyterLab refuses to start as root (containers, cloud shells) unless told it is fine.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)  ## open JupyterLab on the first notebook
	$(VENV)/bin/jupyter lab $(LAB_ARGS) notebooks/00_tour.ipynb

test: $(STAMP)  ## unit tests + every notebook (nbmake), tiny scale
	$(PY) -m pytest

$(BROWSER_STAMP): $(STAMP)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev,browser]"
	touch $(BROWSER_STAMP)

# Needs Debian's chromium (`apt-get install -y chromium fonts-dejavu`); Playwright drives it, no browser download.
test-browser: $(BROWSER_STAMP)  ## the explorer (09) and notebook 01 run in JupyterLab in a real browser
	@command -v chromium >/dev/null || { echo "test-browser: chromium is missing: apt-get install -y chromium fonts-dejavu"; exit 2; }
	$(PY) -m pytest -m browser tests/browser
	@echo "screenshots: build/browser/"

notebooks: $(STAMP)  ## execute the whole series headless; executed copies land in build/notebooks/
	mkdir -p build/notebooks
	cd notebooks && for nb in [0-9][0-9]_*.ipynb; do \
	  ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 \
	    --output-dir ../build/notebooks "$$nb" || exit 1; \
	done
	@echo "executed notebooks: build/notebooks/"

world: $(STAMP)  ## a 1,000-clip dataset in data/world (seconds)
	$(VENV)/bin/chronus-lab world --n 1000 --seed 0 --out data/world --overwrite

clean:
	rm -rf build .pytest_cache
