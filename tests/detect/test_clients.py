"""The exported detectors in the runtimes Android apps use: MediaPipe Tasks and the TFLite Task Library.

Every variant (fp32, fp16, int8) must load in both and find what edgeprune's own TFLite evaluation finds on BCCD
val images: the same classes, boxes within 1 px and scores within 1e-3 (fp32 and fp16). The images are given at
the model's input size, so that no runtime resizes. The Task Library runs in its own virtualenv (``make tasklib``,
path in ``EDGEPRUNE_TASKLIB_PYTHON``; ``make test`` sets it).
"""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeprune.detect import clients
from tests.conftest import REPO

SIZE = 128
VARIANTS = ("fp32", "fp16", "int8")
LABELS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def val_images(bccd, tmp_path_factory):
    ids = (bccd / "ImageSets" / "Main" / "val.txt").read_text().split()[:4]
    folder = tmp_path_factory.mktemp("bccd_val")
    images, files = [], []
    for image_id in ids:
        pixels = np.asarray(Image.open(bccd / "JPEGImages" / f"{image_id}.jpg").convert("RGB").resize((SIZE, SIZE)))
        images.append(pixels)
        files.append(folder / f"{image_id}.png")
        Image.fromarray(pixels).save(files[-1])
    return images, files


def _tasklib_python() -> str:
    configured = os.environ.get("EDGEPRUNE_TASKLIB_PYTHON")
    if configured:
        assert Path(configured).is_file(), f"EDGEPRUNE_TASKLIB_PYTHON={configured} does not exist (make tasklib)"
        return configured
    default = REPO / ".venv-tasklib" / "bin" / "python"
    if not default.is_file():
        pytest.skip("TFLite Task Library venv not built: run `make tasklib` (make test does)")
    return str(default)


def _check(reference, found, variant):
    result = clients.compare(reference, found, size=SIZE)
    assert result["compared"] > 0 and result["unmatched"] == 0, result
    if variant == "int8":
        # many detections tie at one uint8 score step, so the nearest box may be another's: almost every box within
        # a pixel, none off by more than 4 (3% of the image; 2.5-3 px seen, depending on the trained weights)
        assert result["p95_box_px"] <= 1.0 and result["max_box_px"] <= 4.0, result
    else:
        assert result["max_box_px"] <= 1.0 and result["max_score"] <= 1e-3, result


@pytest.mark.parametrize("variant", VARIANTS)
def test_mediapipe_object_detector_loads_and_matches(trained, val_images, variant):
    model = trained / f"model_{variant}.tflite"
    images, _ = val_images
    reference = clients.reference_detections(model, images, LABELS)
    found = clients.mediapipe_detections(model, images)
    assert all(rows for rows in found)
    assert {row["label"] for rows in found for row in rows} <= set(LABELS)
    _check(reference, found, variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_task_library_object_detector_loads_and_matches(trained, val_images, variant):
    model = trained / f"model_{variant}.tflite"
    images, files = val_images
    reference = clients.reference_detections(model, images, LABELS)
    found = clients.task_library_detections(model, files, python=_tasklib_python())
    assert all(rows for rows in found)
    assert all(row["label"] == LABELS[row["class"]] for rows in found for row in rows)
    _check(reference, found, variant)


def test_compare_reports_a_wrong_class_and_a_moved_box():
    reference = [[{"class": 1, "label": "0", "box": [10, 10, 20, 20], "score": 0.5}]]
    assert clients.compare(reference, [[{**reference[0][0], "label": "1"}]], size=64)["unmatched"] == 1
    moved = clients.compare(reference, [[{**reference[0][0], "box": [12, 10, 20, 20], "score": 0.4}]], size=64)
    assert moved["max_box_px"] == 2 and moved["max_score"] == pytest.approx(0.1)
