"""Run an exported detector in the runtimes an Android app uses, and compare their detections with edgeprune's.

- **MediaPipe Tasks** (``mediapipe.tasks.python.vision.ObjectDetector``) runs in this process (a dev dependency).
- **TFLite Task Library** (``tflite_support.task.vision.ObjectDetector``) pins protobuf < 4 and numpy < 2, so it
  lives in a virtualenv of its own (``make tasklib``); :func:`task_library_detections` runs
  ``task_library_runner.py`` there and reads its JSON.

Both runtimes read the model's metadata (normalisation, label file) and its outputs by position. Images are given at
the model's input size, so no runtime resizes and the comparison isolates the model and its metadata.
Detections are ``{"class", "label", "box", "score"}``: the output class (None from MediaPipe, which gives only the
name), its ``labelmap.txt`` name, ``[xmin, ymin, xmax, ymax]`` in pixels, and the score.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from ..errors import EdgepruneError, require
from .evaluate import tflite_detector, tflite_interpreter

RUNNER = Path(__file__).with_name("task_library_runner.py")


def input_size(model_path: Path) -> int:
    """The square input size ``S`` of a detector taking ``[1, S, S, 3]``."""
    return int(tflite_interpreter(Path(model_path), 1).get_input_details()[0]["shape"][1])


def reference_detections(model_path: Path, images: list[np.ndarray], labels: list[str]) -> list[list[dict]]:
    """edgeprune's own reading of the model with the LiteRT interpreter (the one its mAP evaluation uses)."""
    detect = tflite_detector(Path(model_path), threads=1)
    results = []
    for pixels in images:
        size = pixels.shape[0]
        boxes, classes, scores = detect(pixels.astype(np.float32))
        rows = []
        for (ymin, xmin, ymax, xmax), label, score in zip(boxes, classes, scores):
            box = np.array([xmin, ymin, xmax, ymax]) * size
            name = labels[int(label) - 1] if 1 <= int(label) <= len(labels) else str(int(label))
            rows.append({"class": int(label), "label": name, "box": box.tolist(), "score": float(score)})
        results.append(rows)
    return results


def mediapipe_detections(model_path: Path, images: list[np.ndarray], *, max_results: int = 100) -> list[list[dict]]:
    """Detections of MediaPipe Tasks' ``ObjectDetector`` (score threshold 0, every result)."""
    mp = require("mediapipe", "dev")
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ObjectDetectorOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)), max_results=max_results, score_threshold=0.0
    )
    results = []
    with vision.ObjectDetector.create_from_options(options) as detector:
        for pixels in images:
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(pixels, dtype=np.uint8))
            results.append([_client_row(d) for d in detector.detect(image).detections])
    return results


def _client_row(detection) -> dict:
    box, category = detection.bounding_box, detection.categories[0]
    return {
        "class": None if category.index is None else int(category.index),  # MediaPipe gives only the name
        "label": category.category_name,
        "box": [box.origin_x, box.origin_y, box.origin_x + box.width, box.origin_y + box.height],
        "score": float(category.score),
    }


def task_library_detections(
    model_path: Path, image_files: list[Path], *, python: str, max_results: int = 100
) -> list[list[dict]]:
    """Detections of the TFLite Task Library's ``ObjectDetector``, run by ``python`` (its own virtualenv)."""
    command = [python, str(RUNNER), str(model_path), "--max-results", str(max_results), *map(str, image_files)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    except FileNotFoundError:
        raise EdgepruneError(f"{python}: no such interpreter for the TFLite Task Library (run `make tasklib`)")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise EdgepruneError(f"TFLite Task Library failed on {model_path}: {last}")
    return json.loads(done.stdout)


def compare(reference: list[list[dict]], other: list[list[dict]], *, size: int, score_floor: float = 0.0) -> dict:
    """Match every reference detection scoring above ``score_floor`` to the client's detection of the same class
    (by its ``labelmap.txt`` name, which both runtimes report) with the nearest box; report how many found no match
    and the largest box and score differences. Box differences are taken over origin and size in pixels, the
    numbers both runtimes report (as integers). Boxes reaching past the image edge are left out: the model does not
    clip, and each runtime clips its own way (MediaPipe moves the origin inside and keeps the size).
    ``p95_box_px`` is the 95th percentile of the box differences."""
    unmatched, box_diff, score_diff = 0, 0.0, 0.0
    compared = 0
    diffs = [0.0]
    for ref_rows, rows in zip(reference, other, strict=True):
        for ref in ref_rows:
            if ref["score"] <= score_floor or min(ref["box"]) < 0 or max(ref["box"]) > size:
                continue
            compared += 1
            same_class = [r for r in rows if r["label"] == ref["label"]]
            if not same_class:
                unmatched += 1
                continue
            best = min(same_class, key=lambda r: _box_distance(r["box"], ref["box"]))
            diffs.append(_box_distance(best["box"], ref["box"]))
            box_diff = max(box_diff, diffs[-1])
            score_diff = max(score_diff, abs(best["score"] - ref["score"]))
    p95 = float(np.percentile(diffs, 95))
    return {
        "compared": compared, "unmatched": unmatched, "max_box_px": box_diff, "p95_box_px": p95,
        "max_score": score_diff,
    }  # fmt: skip


def _box_distance(a: list[float], b: list[float]) -> float:
    """Largest difference of origin (x, y) and size (width, height) between two ``[xmin, ymin, xmax, ymax]`` boxes."""
    origin_size = lambda box: np.array([box[0], box[1], box[2] - box[0], box[3] - box[1]], dtype=float)  # noqa: E731
    return float(np.abs(origin_size(a) - origin_size(b)).max())
