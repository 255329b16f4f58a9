# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := data/demo
RUN    := runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo test install clean

$(BIN)/combtf: setup.py setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[cpu,test]'
	touch $@

install: $(BIN)/combtf

demo: install
	@test -d $(DEMO) || $(BIN)/combtf demo-data $(DEMO)
	$(BIN)/combtf train --config configs/demo.yaml --data $(DEMO)/train --out $(RUN)
	$(BIN)/combtf swap --model $(RUN) --source ada --target ben --input $(DEMO)/eval/ben --output swaps/demo/ada_from_ben
	$(BIN)/combtf evaluate --model $(RUN) --data $(DEMO)/eval --json $(RUN)/evaluation.json
	$(BIN)/combtf export --model $(RUN)
	@echo
	@echo "Done. Previews: $(RUN)/previews/   Swaps: swaps/demo/   Scores: $(RUN)/evaluation.json"
	@echo "SavedModels:   exported_models/$(notdir $(RUN))/ (README, 'Serving')"
	@echo "TensorBoard:   $(BIN)/tensorboard --logdir $(RUN)/logs"

# pytest exits 5 when it collected no test; that is not a failure of the code.
test: install
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

clean:
	rm -rf $(VENV) build *.egg-info
