# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := data/demo
RUN    := runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo demo-real test install browser clean

$(BIN)/combtf: setup.py setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[cpu,test,onnx]'
	touch $@

install: $(BIN)/combtf

demo: install
	@test -d $(DEMO) || $(BIN)/combtf demo-data $(DEMO)
	$(BIN)/combtf train --config configs/demo.yaml --data $(DEMO)/train --out $(RUN)
	$(BIN)/combtf swap --model $(RUN) --source ada --target ben --input $(DEMO)/eval/ben --output swaps/demo/ada_from_ben
	$(BIN)/combtf evaluate --model $(RUN) --data $(DEMO)/eval --json $(RUN)/evaluation.json
	$(BIN)/combtf export --model $(RUN) --format all
	$(BIN)/combtf latent-plot --model $(RUN) --out $(RUN)/latent.png
	$(BIN)/combtf coverage --model $(RUN) --out $(RUN)/coverage.html --json $(RUN)/coverage.json
	@echo
	@echo "Done. Previews: $(RUN)/previews/   Swaps: swaps/demo/   Scores: $(RUN)/evaluation.json"
	@echo "Latent space:  $(RUN)/latent.png   Coverage: $(RUN)/coverage.html (and coverage.json)"
	@echo "Exports:       exported_models/$(notdir $(RUN))/ (SavedModels, onnx/, dfm/: docs/serving.md)"
	@echo "TensorBoard:   $(BIN)/tensorboard --logdir $(RUN)/logs"

# Real faces: the four people of ../shared/faces (only on the project's machines and CI; a clone
# gets a one-line message). Extracts once into data/real, trains configs/real.yaml (about 15 min on
# 2 cores), judges every pair's swaps of held-back frames and prints the figures (docs/judging.md).
demo-real: install
	$(BIN)/python benchmarks/real_quality.py --config configs/real.yaml --work data/real --out runs/real-$(shell date +%Y%m%d-%H%M%S)

# The coverage page's browser test drives Debian's chromium (no browser download); where it
# cannot be installed (not root, no apt) that test is skipped and says why.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1; } || \
	  echo "chromium could not be installed: the browser test will be skipped"

# The layering contract (setup.cfg) and the linter (pyproject.toml) first: they take seconds.
# pytest exits 5 when it collected no test; that is not a failure of the code.
test: install browser
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=15; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

clean:
	rm -rf $(VENV) build *.egg-info
