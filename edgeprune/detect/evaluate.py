"""COCO mAP with pycocotools for the TF model and every TFLite model, and TF-vs-TFLite parity.

Every model sees the same input: the image stretched to ``S`` x ``S``, raw pixels. Detections come back as
normalised boxes and are mapped to the original image's pixels before scoring.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

from ..datasets import Dataset
from ..embed.images import decode_numpy
from ..errors import EdgepruneError
from ..progress import track

log = logging.getLogger(__name__)
Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]  # pixels -> boxes, classes, scores


def load_pixels(img, image_size: int) -> np.ndarray:
    """Decode (upright, as everywhere in edgeprune) and stretch one image to ``[S, S, 3]`` float32 pixels in 0..255."""
    image = decode_numpy(img.read_bytes(), img.file_name)
    return tf.image.resize(image, [image_size, image_size]).numpy()


def tf_detector(saved_model: Path) -> Detector:
    """The exported SavedModel (TF NMS); classes are 1-based label ids."""
    function = tf.saved_model.load(str(saved_model)).signatures["serving_default"]

    def detect(pixels: np.ndarray):
        out = function(inputs=tf.constant(pixels[None], tf.float32))
        count = int(out["num_detections"][0])
        return (
            out["detection_boxes"][0, :count].numpy(),
            out["detection_classes"][0, :count].numpy().astype(int),
            out["detection_scores"][0, :count].numpy(),
        )

    return detect


def tflite_interpreter(model_path: Path, threads: int = 2):
    """A LiteRT interpreter for ``model_path`` with tensors allocated."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def output_indices(interpreter) -> dict[str, int]:
    """Boxes/classes/scores/count by subgraph position, as the TFLite Task Library and MediaPipe read them; a model
    whose outputs are in another order is refused (those runtimes would reject it too)."""
    details = interpreter.get_output_details()
    ranks = [len(d["shape"]) for d in details]
    if ranks != [3, 2, 2, 1]:
        shapes = ", ".join(str([int(v) for v in d["shape"]]) for d in details)
        raise EdgepruneError(
            f"detector outputs are [{shapes}]; expected location [1,N,4], category [1,N], score [1,N], count [1] "
            "in that order (re-export the model with this edgeprune)"
        )
    return {name: d["index"] for name, d in zip(("boxes", "classes", "scores", "count"), details)}


def tflite_detector(model_path: Path, threads: int = 2) -> Detector:
    """A TFLite model; like the TF model it reports 1-based label ids (the model's output class ``i`` is label id
    ``i + 1``: its post-processing skips Model Garden's background column)."""
    interpreter = tflite_interpreter(model_path, threads)
    source = interpreter.get_input_details()[0]
    outputs = output_indices(interpreter)

    def detect(pixels: np.ndarray):
        tensor = pixels[None]
        if source["dtype"] == np.uint8:
            scale, zero_point = source["quantization"]
            tensor = np.clip(np.round(tensor / (scale or 1.0) + zero_point), 0, 255)
        interpreter.set_tensor(source["index"], tensor.astype(source["dtype"]))
        interpreter.invoke()
        count = int(interpreter.get_tensor(outputs["count"])[0])
        boxes = interpreter.get_tensor(outputs["boxes"])[0, :count]
        classes = interpreter.get_tensor(outputs["classes"])[0, :count].astype(int) + 1  # output 0 = label id 1
        return boxes, classes, interpreter.get_tensor(outputs["scores"])[0, :count]

    return detect


def run_detector(detect: Detector, dataset: Dataset, image_size: int, desc: str) -> list[dict]:
    """COCO-style detections for every image (image ids are positions + 1, as in ``ground_truth``)."""
    results = []
    for position, img in enumerate(track(dataset.images, desc)):
        boxes, classes, scores = detect(load_pixels(img, image_size))
        for (ymin, xmin, ymax, xmax), label, score in zip(boxes, classes, scores):
            x, y = float(xmin) * img.width, float(ymin) * img.height
            w, h = float(xmax - xmin) * img.width, float(ymax - ymin) * img.height
            results.append(
                {"image_id": position + 1, "category_id": int(label), "bbox": [x, y, w, h], "score": float(score)}
            )
    return results


def ground_truth(dataset: Dataset) -> dict:
    """COCO ground truth with image ids = positions + 1 and the dataset's (training) category ids."""
    images, annotations = [], []
    for position, img in enumerate(dataset.images):
        images.append({"id": position + 1, "file_name": img.file_name, "width": img.width, "height": img.height})
        for box in img.boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": position + 1,
                    "category_id": box.category_id,
                    "bbox": list(box.bbox),
                    "area": box.area,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": c.id, "name": c.name} for c in dataset.categories]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_metrics(gt: dict, detections: list[dict]) -> dict:
    """mAP@[.5:.95], mAP@.5 and per-class AP (percent) from pycocotools."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if not detections:
            return {"mAP": 0.0, "mAP50": 0.0, "per_class": {c["name"]: 0.0 for c in gt["categories"]}}
        coco_dt = coco_gt.loadRes([dict(d) for d in detections])  # loadRes adds fields in place
        evaluator = COCOeval(coco_gt, coco_dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]  # [iou, recall, class, area, max_dets]
    per_class = {}
    for index, cat in enumerate(gt["categories"]):
        values = precision[:, :, index, 0, -1]
        values = values[values > -1]
        per_class[cat["name"]] = round(100 * float(values.mean()), 2) if values.size else 0.0
    return {
        "mAP": round(100 * float(evaluator.stats[0]), 2),
        "mAP50": round(100 * float(evaluator.stats[1]), 2),
        "per_class": per_class,
    }


def parity(reference: list[dict], candidate: list[dict], *, iou: float = 0.5, top: int = 10) -> dict:
    """Mean absolute score difference between each image's ``top`` reference detections and their IoU-matched,
    same-class candidate detections, and how many found a match."""
    grouped: dict[int, list[dict]] = {}
    for d in candidate:
        grouped.setdefault(d["image_id"], []).append(d)
    per_image: dict[int, list[dict]] = {}
    for d in reference:
        per_image.setdefault(d["image_id"], []).append(d)
    differences, total = [], 0
    for image_id, dets in per_image.items():
        strongest = sorted(dets, key=lambda d: -d["score"])[:top]
        total += len(strongest)
        for d in strongest:
            matches = [
                o
                for o in grouped.get(image_id, [])
                if o["category_id"] == d["category_id"] and _iou(d["bbox"], o["bbox"]) >= iou
            ]
            if matches:
                best = max(matches, key=lambda o: _iou(d["bbox"], o["bbox"]))
                differences.append(abs(best["score"] - d["score"]))
    return {
        "matched": len(differences),
        "reference_detections": total,
        "mean_score_difference": round(float(np.mean(differences)), 4) if differences else None,
    }


def _iou(a: list[float], b: list[float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
