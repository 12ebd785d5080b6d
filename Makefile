# Gradland: build the book, run the tests. `make help` lists the targets.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
JB      = $(BIN)/jupyter-book
BUILD   = _build
STRICT  = -n -W --keep-going

.PHONY: help env book student pdf test preview clean-cache clean bench

help:
	@echo "make book         create .venv, execute every chapter, build the HTML book (and its PDF, with TeX Live)"
	@echo "make student      the student edition, without solutions, in $(BUILD)/student (site, and PDF with TeX Live)"
	@echo "make pdf          build the PDF of the whole book (needs TeX Live, see README)"
	@echo "make test         run the whole test suite (unit tests, notation, book, PDF, site)"
	@echo "make preview      live-reloading preview for authors on http://127.0.0.1:8000"
	@echo "make clean-cache  forget executed notebooks (next build re-runs every cell)"
	@echo "make clean        remove everything built"
	@echo "make bench        run the benchmarks in code/benchmarks/ (CPU, or the GPU if there is one)"

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

# With TeX Live the book is the site and its PDF, which the site links to; without
# it the site is built without the link (book/_ext/gradland_book.py checks the same tools).
book: env
	$(JB) build . $(STRICT)
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
