#!/usr/bin/env bash
# A plain `pip install edgeprune` must run every documented command, export included (issue 21).
#
#   bash tools/check_wheel.sh [WORK_DIR]
#
# Builds the wheel from this checkout, installs it alone into a fresh virtualenv (nothing else: no tflite-support,
# no mediapipe), runs `edgeprune train-export` for a few steps on BCCD from a directory outside the repository, then
# loads the int8 model in MediaPipe Tasks' ObjectDetector (from the development venv, .venv) and detects with it.
# Writes tools/results/wheel/check.txt: the packages of the plain venv and the outputs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
bccd=$repo/../shared/datasets/bccd/BCCD
result=$repo/tools/results/wheel/check.txt
mkdir -p "$work" "$(dirname "$result")"
rm -rf "$work/dist" "$work/venv" "$work/run"
"$repo/.venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$repo"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "$work"/dist/edgeprune-*.whl
mkdir -p "$work/run" && cd "$work/run"
! "$work/venv/bin/python" -c "import mediapipe" 2>/dev/null || { echo "mediapipe is in the plain venv" >&2; exit 1; }
! "$work/venv/bin/python" -c "import tensorflow_lite_support" 2>/dev/null || { echo "tflite-support too" >&2; exit 1; }
"$work/venv/bin/edgeprune" train-export "$bccd" --train-split train --val "$bccd" --val-split val --out model \
    --steps 20 --image-size 128 --quantize fp32,int8 --calibration-steps 10 --parity-tolerance 100 \
    --set task.model.decoder.fpn.num_filters=32 --set task.model.head.num_filters=32 --set task.model.head.num_convs=1 \
    | tee train_export.txt
"$repo/.venv/bin/python" - "$work/run/model/model_int8.tflite" "$bccd" <<'PY' | tee mediapipe.txt
import sys
import numpy as np
from PIL import Image
from edgeprune.detect import clients
model, bccd = sys.argv[1], sys.argv[2]
pixels = np.asarray(Image.open(f"{bccd}/JPEGImages/BloodImage_00001.jpg").convert("RGB").resize((128, 128)))
found = clients.mediapipe_detections(model, [pixels])[0]
print(f"MediaPipe ObjectDetector loaded {model}: {len(found)} detections, labels {sorted({d['label'] for d in found})}")
assert found, "MediaPipe found nothing"
PY
{
  echo "# tools/check_wheel.sh, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "## the plain venv (pip install dist/edgeprune-*.whl, nothing else)"
  "$work/venv/bin/python" -m pip list --format=freeze | grep -iE '^(edgeprune|tensorflow|tf-keras|tf-models-official|flatbuffers|protobuf|mediapipe|tflite-support)=' || true
  echo "## edgeprune train-export (from $work/run, outside the repository)"
  cat train_export.txt
  echo "## MediaPipe Tasks on the int8 model"
  cat mediapipe.txt
} > "$result"
echo "wrote $result"
