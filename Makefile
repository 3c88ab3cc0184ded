# nianbao: two commands a newcomer needs, `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-deps

.PHONY: install system-deps test demo bench bench-national clean

# Debian packages the parsing stage and the browser tests need (LibreOffice for DOC/WPS, the 通报 XLSX → PDF
# check (Calc) and the
# rendered test corpus, a CJK font for PDFs, Chromium for the Datasette page tests, poppler for
# looking at PDFs, Tesseract's Chinese and English models for OCR, redis-server for the shared-frontier
# test).  Installed only when missing; checked again when this Makefile changes.
system-deps: $(SYSTEM_STAMP)
$(SYSTEM_STAMP): Makefile
	@missing=""; \
	command -v soffice >/dev/null 2>&1 || missing="$$missing libreoffice-writer-nogui"; \
	dpkg -s libreoffice-calc-nogui >/dev/null 2>&1 || missing="$$missing libreoffice-calc-nogui"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-wqy-zenhei"; \
	ls /usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata >/dev/null 2>&1 || missing="$$missing tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng"; \
	command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p $(VENV) && touch $(SYSTEM_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-running is quick: pip runs only when pyproject.toml changed.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: system-deps $(STAMP)

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

demo: install
	$(BIN)/nianbao demo

# The benches of minutes (sizes chosen so that each takes a few minutes on 2 cores); each prints its
# figures with the baseline of the same run and the machine's load.
bench: install
	$(BIN)/python bench/parse_bench.py
	$(BIN)/python bench/parse_pool_bench.py
	$(BIN)/python bench/storage_bench.py
	$(BIN)/python bench/storage_size_bench.py
	$(BIN)/python bench/monitor_bench.py
	$(BIN)/python bench/crawl_bench.py --pages 5000
	$(BIN)/python bench/demo_portal_bench.py
	$(BIN)/python bench/ocr_bench.py --seeds 2

# The national figures (hours on a shared 2-core machine): 3,000 portals, a full crawl and an
# incremental night (docs/scale.md), and the checks over ~100,000 reports.
NATIONAL_SITES ?= 3000
NATIONAL_PROCESSES ?= auto
bench-national: install
	$(BIN)/python bench/national_bench.py --sites $(NATIONAL_SITES) --processes $(NATIONAL_PROCESSES)
	$(BIN)/python bench/monitor_bench.py --sites 3000 --agencies 17

clean:
	rm -rf $(VENV) data/demo build *.egg-info
