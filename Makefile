# dsgov — the living list of commands. `make run` and `make test` set everything up themselves.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SERVICES := identity_verification biometric_consent generation_review labeling rumour_refutation regulator_reporting network_log console complaints
# Debian packages the tests need: a CJK font to burn explicit labels (GB 45438 5.2), Chromium
# for the console's browser tests (driven by Playwright; never `playwright install`), and the
# independent label readers / media tools of the labeling tests: exiftool, ffmpeg (ffprobe),
# libheif's heif-enc/heif-convert (HEIF samples).
SYSTEM_PACKAGES := fonts-wqy-microhei chromium libimage-exiftool-perl ffmpeg libheif-examples
SYSTEM_CHECK := test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc && test -x /usr/bin/chromium \
	&& test -x /usr/bin/exiftool && test -x /usr/bin/ffmpeg && test -x /usr/bin/ffprobe \
	&& test -x /usr/bin/heif-enc

.DEFAULT_GOAL := help
.PHONY: help install system-deps run test lint fmt unit integration e2e docs schemas bench clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "dsgov needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[embedded,dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)  ## create the virtualenv and install pinned dependencies

system-deps:  ## install the Debian packages the tests need (CJK font, Chromium, exiftool, ffmpeg, libheif; root or sudo)
	@if ! ($(SYSTEM_CHECK)); then \
		echo "installing $(SYSTEM_PACKAGES) (Debian packages needed by the tests)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	fi

run: install  ## run the whole system on the embedded broker and store (Ctrl-C stops it)
	$(PY) -m devtools run

test: install system-deps  ## lint, type-check, check the architecture and run every test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services devtools
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

lint: install  ## ruff, mypy and the import-linter architecture contracts only
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services devtools
	$(VENV)/bin/lint-imports

fmt: install  ## format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: install system-deps  ## fast tests only (no servers; the labeling ones run exiftool, ffmpeg, heif-enc)
	$(VENV)/bin/pytest tests/unit tests/contract

integration: install  ## tests against the embedded broker and store
	$(VENV)/bin/pytest tests/integration

e2e: install  ## whole-system tests (make run's supervisor, service processes)
	$(VENV)/bin/pytest tests/e2e

docs: install  ## generate the AsyncAPI documents into docs/asyncapi/
	@mkdir -p docs/asyncapi
	@for s in $(SERVICES); do \
		$(VENV)/bin/faststream docs gen services.$$s.entrypoints.asyncapi:app --out docs/asyncapi/$$s.json; \
	done

schemas: install  ## accept the current event schemas as the v1 contract snapshot
	$(PY) -m tests.contract.snapshot

bench: install  ## every benchmark on the embedded stack (each starts its own broker and store)
	$(PY) -m bench.hop_ratio
	$(PY) -m bench.identity_throughput
	$(PY) -m bench.consent_throughput
	$(PY) -m bench.review_throughput
	$(PY) -m bench.labeling_throughput
	$(PY) -m bench.label_formats
	$(PY) -m bench.rumour_matching
	$(PY) -m bench.reporting_throughput
	$(PY) -m bench.console_review
	$(PY) -m bench.complaints_throughput
	$(PY) -m bench.console_complaints
	$(PY) -m bench.network_log_throughput

clean:  ## remove runtime data (var/); keeps the virtualenv
	rm -rf var
