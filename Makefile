# `make demo` and `make test` set everything up on a fresh clone. VENV may be overridden (CI caches it).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-$(shell cat setup.cfg Makefile | sha1sum | cut -c1-12)
# The TFLite Task Library (tflite-support) pins protobuf<4 and numpy<2: it gets a small virtualenv of its own, used
# by the tests that run exported detectors in it (edgeprune/detect/task_library_runner.py).
TASKLIB_VENV ?= $(VENV)-tasklib
TASKLIB_PY := $(TASKLIB_VENV)/bin/python
TASKLIB_STAMP := $(TASKLIB_VENV)/.tflite-support-0.4.4

# Studies (question, protocol, verdict, their own Makefiles) live in experiments/, one folder each.
.PHONY: sysdeps install tasklib demo test bench label-studio-check clean

# Debian packages the tests need: libusb-1.0 for the TFLite Task Library (tflite-support loads it at import), and
# Chromium with its WebDriver for the report tests in a real browser. As root, `make` installs what is missing;
# otherwise it prints the command and stops before any other work.
SYSTEM_LIBS := libusb-1.0.so.0=libusb-1.0-0
SYSTEM_FILES := /usr/bin/chromium=chromium /usr/bin/chromedriver=chromium-driver
sysdeps:
	@missing=""; for pair in $(SYSTEM_LIBS); do \
		ldconfig -p | grep -q "$${pair%%=*}" || missing="$$missing $${pair#*=}"; \
	done; \
	for pair in $(SYSTEM_FILES); do \
		test -x "$${pair%%=*}" || missing="$$missing $${pair#*=}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get install -y -q $$missing >/dev/null || \
				{ apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; } || exit 1; \
		else \
			echo "edgeprune's tests need Debian packages that are missing:$$missing" >&2; \
			echo "install them, then rerun make:  sudo apt-get install -y$$missing" >&2; \
			exit 1; \
		fi; \
	fi

# pip -qq: only errors. pip's warnings (a find-links folder that does not exist in pip.conf, setuptools' editable
# install notice) would otherwise be hundreds of lines in `make demo > log`.
$(DEPS_STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -e '.[dev]'
	# MediaPipe Tasks, to test exported detectors in the runtime Android apps use. A second step: it lifts absl-py to
	# 2.x past tensorflow-model-optimization's absl-py~=1.2 pin, which one pip resolve refuses (tfmot's quantize_model
	# and Model Garden's QAT configs were checked to work with absl-py 2.5).
	$(PY) -m pip install -qq 'mediapipe>=0.10.30'
	touch $(DEPS_STAMP)

install: $(DEPS_STAMP)
	$(PY) -m pip install -qq --no-deps -e .

$(TASKLIB_STAMP):
	test -x $(TASKLIB_PY) || $(PYTHON) -m venv $(TASKLIB_VENV)
	$(TASKLIB_PY) -m pip install -qq tflite-support==0.4.4 'numpy<2'
	$(TASKLIB_PY) -c 'from tflite_support.task import vision' || \
		(echo 'tflite-support needs libusb-1.0 (Debian: apt-get install libusb-1.0-0)'; exit 1)
	touch $(TASKLIB_STAMP)

tasklib: $(TASKLIB_STAMP)

demo: install
	rm -rf demo_out
	$(PY) -m edgeprune.datasets.synthetic demo_out/data --images 300
	$(VENV)/bin/edgeprune curate demo_out/data --out demo_out/curated --keep 0.5 --clusters 8 \
		--cache-dir demo_out/cache --write-dropped --export-folders prune
	@echo "pruned dataset: demo_out/curated/pruned   report: demo_out/curated/report.html"

# Two pytest-xdist workers: each test module runs on one worker, and every module of the shared tiny detector on one
# (tests/conftest.py), so no fixture is built twice; fixtures all workers need are built once under a file lock.
PYTEST_WORKERS ?= 2
test: sysdeps install tasklib
	EDGEPRUNE_TASKLIB_PYTHON=$(TASKLIB_PY) $(PY) -m pytest -q -n $(PYTEST_WORKERS) tests experiments

bench: install
	$(PY) tools/bench_embed.py
	$(PY) tools/bench_cluster.py
	$(PY) -m pip install -qq imageio-ffmpeg  # the ffmpeg CLI that tools/bench_video.py compares against
	$(PY) tools/bench_video.py

clean:
	rm -rf demo_out .pytest_cache build *.egg-info .venv-tasklib

# select --model's Label Studio pre-annotations, checked by Label Studio itself (its own virtualenv; a few minutes):
# a tiny detector on generated digit scenes, select with it (from the images, then from videos made of them), then
# tools/check_label_studio.py starts Label Studio on 127.0.0.1, imports the tasks with their predictions through the
# API and reads them back.
LS_VENV ?= .venv-labelstudio
LS_WORK := data/ls_check
label-studio-check: install
	test -x $(LS_VENV)/bin/label-studio || (python3 -m venv $(LS_VENV) && $(LS_VENV)/bin/pip install -qq label-studio)
	rm -rf $(LS_WORK) && mkdir -p $(LS_WORK)
	$(PY) -c "from pathlib import Path; from edgeprune.datasets.synthetic import make_digit_scenes; \
	make_digit_scenes(Path('$(LS_WORK)/digits'), n_images=40, image_size=64, seed=1)"
	$(VENV)/bin/edgeprune -q train-export $(LS_WORK)/digits --val $(LS_WORK)/digits --out $(LS_WORK)/detector \
		--steps 30 --image-size 128 --width 0.35 --batch-size 4 --quantize fp32 --parity-tolerance 100
	$(VENV)/bin/edgeprune -q select $(LS_WORK)/digits --budget 6 --model $(LS_WORK)/detector --min-score 0.01 \
		--cache-dir $(LS_WORK)/cache --out $(LS_WORK)/select
	$(PY) tools/check_label_studio.py $(LS_WORK)/select --label-studio $(LS_VENV)/bin/label-studio \
		--out tools/results/select/label_studio.json
	$(PY) tools/digit_videos.py $(LS_WORK)/digits/images $(LS_WORK)/videos
	$(VENV)/bin/edgeprune -q select $(LS_WORK)/videos --every 1 --budget 6 --model $(LS_WORK)/detector \
		--min-score 0.01 --cache-dir $(LS_WORK)/cache --out $(LS_WORK)/select_videos
	$(PY) tools/check_label_studio.py $(LS_WORK)/select_videos --label-studio $(LS_VENV)/bin/label-studio \
		--out tools/results/select/label_studio_videos.json
