# Gradland: build the book, run the tests. `make help` lists the targets.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
JB      = $(BIN)/jupyter-book
BUILD   = _build
STRICT  = -n -W --keep-going
SHELL   = /bin/bash

.PHONY: help env book student pdf test check check-book chapter corpus shot preview clean-cache clean bench

help:
	@echo "make book         create .venv, check the notation, execute what changed, build the HTML book (and its PDF, with TeX Live)"
	@echo "make check        fast (seconds): lint, notation, and the tests of the modules changed since the last commit"
	@echo "make check-book   the tests of the book (build, PDF, site) against the book that make book left in $(BUILD)"
	@echo "make chapter CH=attention   execute one chapter; fail on any error or warning it prints"
	@echo "make shot PAGE=attention ID=section-id   screenshot one section of the built page, report MathJax errors"
	@echo "make student      the student edition, without solutions, in $(BUILD)/student (site, and PDF with TeX Live)"
	@echo "make pdf          build the PDF of the whole book (needs TeX Live, see README)"
	@echo "make test         run the whole test suite from a clean build (unit tests, notation, book, PDF, site)"
	@echo "make corpus       rewrite code/gradland/corpus.txt, the text Chapter 14 trains on, from the docstrings"
	@echo "make preview      live-reloading preview for authors on http://127.0.0.1:8000"
	@echo "make clean-cache  forget executed notebooks (next build re-runs every cell)"
	@echo "make clean        remove everything built"
	@echo "make bench        run the benchmarks in code/benchmarks/ (CPU, or the GPU if there is one)"
	@echo "Another environment: make VENV=/path/to/venv book (see CONTRIBUTING.md)"

# The environment is made again when requirements.txt or pyproject.toml change: their
# content, recorded in .installed, not their dates (a fresh clone dates every file).
ENV_KEY = cat requirements.txt pyproject.toml | $(PYTHON) -c "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
env:
	@key=$$($(ENV_KEY)); \
	if [ "$$(cat $(VENV)/.installed 2>/dev/null)" != "$$key" ]; then \
	  echo "Installing requirements.txt into $(VENV)"; \
	  $(PYTHON) -m venv $(VENV) && \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt && \
	  echo "$$key" > $(VENV)/.installed; \
	fi

# With TeX Live the book is the site and its PDF, which the site links to; without
# it the site is built without the link (book/_ext/gradland_book.py checks the same tools).
# The notation checker runs first (about a second); the build's output is also kept in
# $(BUILD)/html-build.log, which make check-book reads.
book: env
	$(BIN)/python tests/notation.py
	@mkdir -p $(BUILD)
	set -o pipefail; $(JB) build . $(STRICT) 2>&1 | tee $(BUILD)/html-build.log
	@if command -v xelatex > /dev/null && command -v latexmk > /dev/null; then \
	  $(JB) build . --builder pdflatex $(STRICT) && cp $(BUILD)/latex/gradland.pdf $(BUILD)/html/gradland.pdf; \
	else \
	  echo; echo "TeX Live is not installed, so the book has no PDF and the site no PDF link."; \
	  echo "Install it (see the README), then run make book again."; \
	fi
	@echo
	@echo "The book is built. Open file://$(CURDIR)/$(BUILD)/html/index.html"

# The student edition: the same book without the solutions. It reuses the chapters
# that make book executed (the cache is keyed on the cells, not on the edition).
STUDENT = GRADLAND_EDITION=student GRADLAND_EXECUTION_CACHE=$(CURDIR)/$(BUILD)/.jupyter_cache
student: env
	$(STUDENT) $(JB) build . --path-output $(BUILD)/student $(STRICT)
	@if command -v xelatex > /dev/null && command -v latexmk > /dev/null; then \
	  $(STUDENT) $(JB) build . --path-output $(BUILD)/student --builder pdflatex $(STRICT) && \
	  cp $(BUILD)/student/_build/latex/gradland.pdf $(BUILD)/student/_build/html/gradland.pdf; \
	fi
	@echo
	@echo "The student edition is built. Open file://$(CURDIR)/$(BUILD)/student/_build/html/index.html"

pdf: env
	$(JB) build . --builder pdflatex $(STRICT)
	@test ! -d $(BUILD)/html || cp $(BUILD)/latex/gradland.pdf $(BUILD)/html/gradland.pdf
	@echo
	@echo "The PDF is built: $(CURDIR)/$(BUILD)/latex/gradland.pdf"

test: env
	$(BIN)/python -m pytest

check: env
	@$(BIN)/python tests/dev.py check

check-book: env
	GRADLAND_REUSE_BUILD=1 $(BIN)/python -m pytest -m "book or pdf or site"

chapter: env
	@test -n "$(CH)" || { echo "usage: make chapter CH=attention (a file stem of book/)"; exit 2; }
	@$(BIN)/python tests/dev.py chapter $(CH)

shot: env
	@test -n "$(PAGE)" || { echo "usage: make shot PAGE=attention ID=section-id"; exit 2; }
	@$(BIN)/python tests/dev.py shot $(PAGE) "$(ID)"

corpus: env
	$(BIN)/python -c "from gradland.data import docstring_text; \
	  open('code/gradland/corpus.txt', 'w', encoding='utf-8').write(docstring_text())"
	@echo "Chapter 14 trains on the new corpus: its numbers and sample sentences will change (make book)."

preview: env
	$(JB) config sphinx . > /dev/null  # writes conf.py (git-ignored) from _config.yml
	PYTHONPATH=book/_ext $(BIN)/sphinx-autobuild . $(BUILD)/preview --watch code/gradland \
	  --re-ignore '(_build|\.venv|\.git|\.hypothesis|\.pytest_cache|tests)/' --port 8000

clean-cache:
	rm -rf $(BUILD)/.jupyter_cache $(BUILD)/jupyter_execute $(BUILD)/.doctrees

clean:
	rm -rf $(BUILD)

bench: env
	@for script in code/benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
