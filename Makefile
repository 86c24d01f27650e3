# Two commands do everything on a fresh machine with Python >= 3.11:
#   make book   -> _build/html/index.html, every chapter executed
#   make test   -> lint, unit tests, every chapter executed, book built with warnings as errors
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JB     := $(VENV)/bin/jupyter-book
# The Python that builds .venv, stamped into it: another version rebuilds .venv from scratch.
PYVER   := $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
PYSTAMP := $(VENV)/.python-$(PYVER)
# uv (pinned) installs the lock, resolves it and tests the lower bounds; it lives in its own small venv.
UV_VERSION := 0.13.9
UV     := .uv/bin/uv
LOWEST := .venv-lowest
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# Kernels inherit the environment; MPLBACKEND=Agg would make plt.show() draw nothing in the book.
unexport MPLBACKEND

.PHONY: help setup book test test-lowest lint unit chapters build-book notebooks student lock lock-check benchmarks clean gpu-check demo

help:
	@echo "make book    build the HTML book, every chapter executed"
	@echo "make test    lint + unit tests + chapters + book build (warnings are errors)"
	@echo "make unit    unit tests only;  make chapters  execute chapters only"
	@echo "make notebooks  regenerate the paired .ipynb files;  make student  student copies"
	@echo "make gpu-check  unit tests and training chapters on a CUDA GPU (fails without one)"
	@echo "make test-lowest  unit tests against the lowest versions pyproject.toml allows"
	@echo "make lock    re-resolve requirements/lock.txt for Linux, macOS and Windows;  make lock-check  check it"
	@echo "make demo    the product search of chapter 12 as a web service on 127.0.0.1 (builds its index if missing)"

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet uv==$(UV_VERSION)

# A .venv made by another Python (its pyvenv.cfg says which) is removed and made anew.
$(PYSTAMP):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed, found " + sys.version'
	grep -Eqs '^version(_info)? = $(PYVER)$$' $(VENV)/pyvenv.cfg || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	rm -f $(VENV)/.python-*
	touch $@

$(STAMP): $(PYSTAMP) $(UV) requirements/lock.txt pyproject.toml
	$(UV) pip install --quiet --python $(PY) --requirement requirements/lock.txt
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation --editable .
	touch $(STAMP)

setup: $(STAMP)

book: $(STAMP)
	$(JB) build . --builder html --keep-going
	@echo "Book: $(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m tools.notebooks --check
	$(PY) -m tools.check_claims

unit: $(STAMP)
	$(PY) -m pytest -m "not chapter" -q

chapters: $(STAMP)
	$(PY) -m tools.chapter_runner

# The chapters that train or encode with a network, executed on the GPU with their times.
GPU_CHAPTERS := chapters/04_text_features.md chapters/05_image_features.md chapters/06_audio_features.md \
                chapters/08_fusion.md chapters/09_shared_space.md

# On a machine with a CUDA GPU: the unit tests with XMR_DEVICE=cuda (every test taking the
# `device` fixture then runs on the CPU and on the GPU and compares with its reference, and the
# mixed-device tests that skip without a GPU run), then the training chapters on the GPU, each
# with its wall time. Without CUDA it stops at once with a message; it never fakes a run.
gpu-check: $(STAMP)
	@$(PY) -c 'import sys, torch; ok = torch.cuda.is_available(); print("gpu-check on", torch.cuda.get_device_name(0) if ok else "no GPU", "- torch", torch.__version__, "CUDA", torch.version.cuda); sys.exit(0 if ok else "make gpu-check needs a CUDA GPU: torch.cuda.is_available() is False on this machine, so nothing was run")'
	XMR_DEVICE=cuda $(PY) -m pytest -m "not chapter" -q -rs -p no:cacheprovider --durations=10
	XMR_DEVICE=cuda $(PY) -m tools.chapter_runner --no-cache $(GPU_CHAPTERS)

build-book: $(STAMP)
	$(JB) build . --all --builder html -W --keep-going
	$(PY) -m tools.check_build
	$(PY) -m tools.check_browser

test: $(STAMP)
	$(MAKE) lint
	$(PY) -m pytest -q --durations=10
	$(MAKE) build-book
	@echo "Book: $(CURDIR)/_build/html/index.html"

notebooks: $(STAMP)
	$(PY) -m tools.notebooks

student: $(STAMP)
	$(PY) -m tools.student --out student

benchmarks: $(STAMP)
	$(PY) benchmarks/search.py
	$(PY) benchmarks/ann.py
	$(PY) benchmarks/audio_features.py

# The lowest versions pyproject.toml allows for xmr_lite's own dependencies (the newest of
# everything else), in a venv of their own, then the unit tests there. The book's tooling is
# not installed: this also checks that the unit tests need only the `test` extra.
test-lowest: $(UV)
	rm -rf $(LOWEST)
	$(UV) venv --quiet --python $(PYTHON) $(LOWEST)
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct --editable '.[test]'
	$(LOWEST)/bin/python -m pytest -m "not chapter" -q -p no:cacheprovider

# One lock for every platform: uv resolves requirements.in for Linux, macOS and Windows at
# once (platform markers select torch's CUDA packages on Linux only), with hashes. Written to
# a temporary file first, so an interrupted run leaves the old lock in place. The versions
# already pinned are kept unless requirements.in rules them out: `make lock UPGRADE=--upgrade`
# moves everything to the newest versions.
LOCK_PLATFORMS := x86_64-manylinux_2_28 aarch64-apple-darwin x86_64-pc-windows-msvc
lock: $(UV)
	cp requirements/lock.txt requirements/lock.txt.tmp
	$(UV) pip compile --quiet --universal --generate-hashes --python-version 3.11 $(UPGRADE) \
	    --custom-compile-command "make lock" --output-file requirements/lock.txt.tmp requirements/requirements.in
	mv requirements/lock.txt.tmp requirements/lock.txt
	$(MAKE) lock-check

# The lock installs, with wheels only, on each platform (a dry run: nothing is installed).
# macOS means 14 or later on Apple silicon: av (PyAV) has no wheels for older macOS.
lock-check: export MACOSX_DEPLOYMENT_TARGET := 14.0
lock-check: $(UV)
	@for platform in $(LOCK_PLATFORMS); do \
	    echo "$$platform:"; \
	    out=$$($(UV) pip install --dry-run --no-build --target /tmp/xmr-lock-check --python-version 3.11 \
	        --python-platform $$platform --requirement requirements/lock.txt 2>&1) || { echo "$$out"; exit 1; }; \
	    echo "$$out" | grep -E "^(Resolved|Would)"; \
	done

# Chapter 12's product search as a web service: builds _build/product_search/ if it is missing,
# prints the address, serves until Ctrl+C. DEMO_PORT and XMR_MILVUS_URI (a Milvus server) are settings.
DEMO_PORT ?= 8000
demo: $(STAMP)
	$(PY) -m apps.product_search --host 127.0.0.1 --port $(DEMO_PORT)

clean:
	rm -rf _build student .pytest_cache .ruff_cache .hypothesis $(LOWEST) .uv
